"""scn: marketing automation where scenarios are code."""

__version__ = "0.1.0"

#: Where the project is published. A placeholder until the repository is public: when
#: publishing, change it here (every link Python makes starts with it) and `repository.url`
#: in editors/vscode/package.json (tests/test_repository_url.py keeps the two the same).
REPOSITORY_URL = "https://example.invalid/scn"
#: docs/language.md as published: `scn explain`, the JSON and SARIF reports and the
#: Pygments lexer link to it (a code's row is `#scn214`).
DOCS_URL = f"{REPOSITORY_URL}/blob/main/docs/language.md"
