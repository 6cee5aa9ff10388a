from services.assistant.bootstrap import main

main()
