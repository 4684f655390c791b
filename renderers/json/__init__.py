"""Forms as JSON: the definition a browser or an offline client evaluates (fields, choices,
compiled expressions), for the API and `sanad compile`."""
