"""Languages the assistant understands and answers in: English and Chinese.

`text` normalises a message (full-width forms, Traditional characters, emoji) and says which
language it is in; `zh` bridges Chinese shopper words onto the catalogue's English
vocabulary, so a Chinese query runs through the same understanding, fusion, filters and
explanations as an English one. Does not own the phrase tables of either language's
understanding (`retrieval.understanding`, `planner`) nor answer texts (`messages`).
"""
