"""A small corpus with known answers (its own module: `conftest` is not importable by name)."""

CORPUS = [
    {"id": "paris", "title": "Paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {
        "id": "python",
        "title": "Python (programming language)",
        "text": "Python is a high-level, general-purpose programming language created by Guido van Rossum.",
    },
    {
        "id": "monty",
        "title": "Monty Python",
        "text": "Monty Python were a British surreal comedy group who created the sketch show Flying Circus.",
    },
    {
        "id": "eiffel",
        "title": "Eiffel Tower",
        "text": "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    },
    {
        "id": "rhine",
        "title": "Rhine",
        "text": "The Rhine flows through Switzerland, Germany and the Netherlands.",
    },
    {
        "id": "pythonidae",
        "title": "Pythonidae",
        "text": "Pythons are nonvenomous snakes found in Africa, Asia and Australia.",
    },
]
