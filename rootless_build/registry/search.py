"""search: a registry's catalog (/v2/_catalog) filtered by a term, with each match's tags
(/v2/NAME/tags/list), both followed across pages (Link: rel="next")."""

from __future__ import annotations

from dataclasses import dataclass

from rootless_build.registry import conf as registries_conf
from rootless_build.registry.client import Repository, paginate
from rootless_build.registry.options import RegistryOptions
from rootless_build.registry.transport import Connections

PAGE = 100


@dataclass(frozen=True)
class SearchHit:
    name: str              # registry/repository
    tags: tuple[str, ...]


def split_query(text: str, conf: registries_conf.RegistriesConf) -> list[tuple[str, str]]:
    """[(registry, term)]: 'REGISTRY/TERM', 'REGISTRY' alone, or a bare term searched in
    each unqualified-search registry (docker.io when none are configured)."""
    first, sep, rest = text.partition("/")
    if _hostlike(first):
        return [(first, rest if sep else "")]
    return [(host, text) for host in (conf.search or ("docker.io",))]


def search(text: str, *, limit: int = 25, options: RegistryOptions | None = None,
           conf: registries_conf.RegistriesConf | None = None,
           connections: Connections | None = None, page_size: int = PAGE) -> list[SearchHit]:
    conf = conf if conf is not None else registries_conf.load()
    connections = connections or Connections(options)
    hits: list[SearchHit] = []
    for host, term in split_query(text, conf):
        transport = connections.get(host, conf.insecure(host))
        transport.auth.scopes.add("registry:catalog:*")
        names = []
        for page in paginate(transport, "/v2/_catalog", {"n": str(page_size)}, what=f"listing the catalog of {host}"):
            names += [n for n in page.get("repositories") or [] if term.lower() in n.lower()]
            if limit and len(hits) + len(names) >= limit:
                break
        for name in names:
            if limit and len(hits) >= limit:
                return hits
            hits.append(SearchHit(f"{host}/{name}", tuple(Repository(transport, name).tags(page_size))))
    return hits


def _hostlike(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"
