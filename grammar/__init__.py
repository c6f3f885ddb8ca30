"""The .geo front end: grammar, parser, AST and formatter."""
