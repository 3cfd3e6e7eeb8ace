"""The scn interpreter: AST, checker, compiler, runtime and store."""
