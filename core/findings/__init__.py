"""Detection: rules that flag events, from the 4688 page's monitoring recommendations.

`rules` loads and validates the TOML rule settings (`default_rules.toml` beside it), `engine`
evaluates them over a store, and `child` runs the engine in a child process for big stores.
"""
