"""The floor of the engine: what an event is, and how its values read.

`event` (the frozen `Event`, `ParseIssue`, `InputError`, FILETIME helpers), `values` (PIDs and
handles compared as integers, field-name groups), `text` (attacker text made safe to show),
`rows` (the compact row and posting-list wire format decoders and the store share), `decode`
(%%1936, S-1-16-*, access masks, field help) and `summary` (one line per event).

Nothing here imports any other part of the project (an import-linter contract checks it), so
every layer above can stand on it.
"""
