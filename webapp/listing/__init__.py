"""The table page's engine: a view's URL state, filters, search, sort and paging turned
into one statement; row counts and facets; the rows as HTML; and the same view as a CSV or
JSON download."""
