from termbridge.cli import main

main()
