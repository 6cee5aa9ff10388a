from services.assistant.retrieval.memory import tune_allocator

tune_allocator()  # before bootstrap imports kiwipiepy: mimalloc reads its options at load

from services.assistant.bootstrap import main  # noqa: E402

main()
