#!/bin/sh
# Prints the greeting and a little about the container it runs in.
echo "${GREETING:-Hello}"
echo "running as uid $(id -u) on $(uname -s) $(uname -r), hostname $(hostname)"
