"""The engine at run time, pure and without a database: evaluating answers against a form,
workflow transitions and their guards, the access policy (who may reach which records, forms and
fields), scenario tests, and the registry of loaded modules."""
