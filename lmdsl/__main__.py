from lmdsl.cli.main import main

main()
