"""The template language: load Packer templates, evaluate expressions, report diagnostics."""
