"""The filter language: text -> tokens (`lexer`) -> syntax tree (`parser`) -> parameterised SQL
(`compile`), and the paged views over a compiled filter (`view`). Values are always bound as
parameters, never pasted into the SQL text.
"""
