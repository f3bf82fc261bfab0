from workers.run import main

main()
