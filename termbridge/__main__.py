from termbridge.fastpath import main

main()
