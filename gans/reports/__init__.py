"""Report generators: the sweeps behind the pages of docs/ that are made by a program (their
runs, caches, tables, figures and prose), driven by the short scripts in examples/."""
