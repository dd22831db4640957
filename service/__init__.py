"""The only floor that knows HTTP and the command line: FastAPI app, search page, CLI, LangChain retriever."""
