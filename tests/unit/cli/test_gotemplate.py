"""The Go template subset of --format (cli/gotemplate.py): docker's functions, Go's
printing of values, `table` with headers, and one-line errors."""

from __future__ import annotations

import pytest

from rootless_build.cli.gotemplate import format_rows, render, render_table, tabwriter
from rootless_build.errors import UsageError

DOC = {"Config": {"Cmd": ["sh", "-c"], "Entrypoint": None, "Labels": {"b": "2", "a": "1"}, "Volumes": None,
                  "Env": ["A=1", "PATH=/bin"]},
       "Id": "sha256:abc", "Os": "linux", "Size": 42, "Name": "/web", "RepoTags": ["app:1", "app:2"]}


@pytest.mark.parametrize("template, expected", [
    ("{{.Id}}", "sha256:abc"),
    ("{{ .Config.Cmd }}", "[sh -c]"),
    ("{{json .Config.Cmd}}", '["sh","-c"]'),
    ("{{.Config.Labels}}", "map[a:1 b:2]"),
    ("{{.Config.Entrypoint}}|{{.Config.Volumes}}|{{json .Config.Entrypoint}}", "[]|map[]|null"),
    ("{{.Size}} {{.os}}", "42 linux"),
    ('{{index .Config.Labels "a"}}', "1"),
    ("{{index .RepoTags 1}}", "app:2"),
    ('{{index .Config.Labels "missing"}}', "<no value>"),
    ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][PATH=/bin]"),
    ("{{range $i, $e := .RepoTags}}{{$i}}={{$e}} {{end}}", "0=app:1 1=app:2 "),
    ("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}", "a:1;b:2;"),
    ("{{range .Config.Entrypoint}}x{{else}}none{{end}}", "none"),
    ('{{join .Config.Cmd " "}}', "sh -c"),
    ("{{upper .Os}} {{lower \"ABC\"}} {{title \"hello world\"}}", "LINUX abc Hello World"),
    ('{{split "a:b:c" ":"}}', "[a b c]"),
    ('{{len .RepoTags}} {{len (split "a,b,c" ",")}}', "2 3"),
    ("{{println .Os .Size}}end", "linux 42\nend"),
    ("{{.Os | upper}}", "LINUX"),
    ('{{if eq .Os "linux"}}L{{else if eq .Os "windows"}}W{{else}}?{{end}}', "L"),
    ('{{if eq .Os "plan9"}}L{{else if eq .Size 42}}W{{else}}?{{end}}', "W"),
    ("{{with .Config}}{{.Cmd}}{{end}}", "[sh -c]"),
    ("{{/* a comment */}}x  {{- .Os -}}  y", "xlinuxy"),
    ('{{printf "%s has %d" .Os .Size}}', "linux has 42"),
    ("{{json .}}", '{"Config":{"Cmd":["sh","-c"],"Entrypoint":null,"Labels":{"b":"2","a":"1"},"Volumes":null,'
                   '"Env":["A=1","PATH=/bin"]},"Id":"sha256:abc","Os":"linux","Size":42,"Name":"/web",'
                   '"RepoTags":["app:1","app:2"]}'),
    ("a\\tb\\n", "a\tb\n"),
])
def test_render(template, expected):
    assert render(template, DOC) == expected


@pytest.mark.parametrize("template, message", [
    ("{{.Nope}}", "can't evaluate field Nope"),
    ("{{.Id.Deeper}}", "can't evaluate field Deeper"),
    ("{{if .Id}}x", "unexpected EOF"),
    ("{{end}}", "unexpected {{end}}"),
    ("{{nosuch .Id}}", 'function "nosuch" not defined'),
    ("{{index .RepoTags 9}}", "index out of range"),
    ("{{range .Size}}{{end}}x{{range .Os}}{{end}}", "range can't iterate over linux"),
    ("{{.Id", "template parsing error: template: :1: unclosed action"),
    ("a\n{{.Id}} {{", "template: :2: unclosed action"),
])
def test_errors_are_one_line_usage_errors(template, message):
    with pytest.raises(UsageError) as info:
        render(template, DOC)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_table_prints_dockers_headers_aligned():
    rows = [{"ID": "0123456789ab", "Image": "busybox", "Names": "web"},
            {"ID": "ba9876543210", "Image": "localhost:5000/debian:latest", "Names": "db"}]
    headers = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES"}
    out = render_table("table {{.ID}}\t{{.Image}}\t{{upper .Names}}", rows, headers)
    assert out.splitlines() == [
        "CONTAINER ID   IMAGE                          NAMES",
        "0123456789ab   busybox                        WEB",
        "ba9876543210   localhost:5000/debian:latest   DB",
    ]
    # a field docker has no header for is named by itself in capitals; "table" alone is the caller's default
    assert render_table("table {{.Other}}", [{"Other": "x"}], {}).splitlines() == ["OTHER", "x"]
    assert format_rows("{{.ID}}", rows, headers) == "0123456789ab\nba9876543210"


def test_tabwriter_minimum_width_and_free_last_cell():
    # a column is its widest cell + 3, at least 10 wide
    assert tabwriter("a\tb\tc\nlonger-cell\td\te").splitlines() == [
        "a" + " " * 13 + "b" + " " * 9 + "c",
        "longer-cell" + " " * 3 + "d" + " " * 9 + "e"]
