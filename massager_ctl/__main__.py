from massager_ctl.cli import main

main()
