"""Fault injection, load with history checking, and the README's "Reliability" figures.

``python -m storeswap.faults`` runs every fault scenario
(:mod:`storeswap.faults.scenarios`) and the load runs
(:mod:`storeswap.faults.load`), prints the fault table and writes
``results.json`` / ``reliability.md``; ``--write README.md`` replaces the
README's Reliability section with the figures of that run.
"""
