"""Containers without a daemon: records, a monitor process per running container, attach,
exec, commit. Public entry points (plain functions; the CLI is a thin layer over them):

  catalog.Catalog(store.containers_dir)          records: create, load, update, lookup, all
  lifecycle.create(store, catalog, image, RunOptions, name=) -> Container
  lifecycle.start(store, catalog, c, expect_attach=, prefer_driver=) / stop / kill / wait / remove
  attach.attach(catalog.socket_path(id), stdin=, tty=) -> exit status | DETACHED | None
  execute.run_exec(c, ExecOptions) -> (status, message)
  logs.print_logs(catalog, c, follow=, timestamps=, tail=)
  commit.commit_container(store, catalog, c, image_name, changes=, message=, author=) -> Image
  status.refresh(catalog, c) settles a stale record; status.status_text / listing for `ps`
  filtering.matcher(store, catalog, Filters) -> predicate for `ps --filter`
  inspect.inspect_doc(catalog, c) -> docker's container inspect document
  changes.container_changes(store, catalog, c) -> [(A|C|D, path)] for `diff`
  copying.copy_in / copy_out / export: tar streams through rootaccess (a child in the
    container's root: its namespaces joined when running, its tree mounted when stopped)
  top.top(c, ps_args) -> (titles, rows); catalog.rename(id, name)

On disk: $ROOT/containers/<id>/{container.json,upper/,work/,ctr.log};
attach socket: $XDG_RUNTIME_DIR/rootless-build/containers/<id>/attach.sock.
"""
