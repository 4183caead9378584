from rootless_build.cli.main import main

main()
