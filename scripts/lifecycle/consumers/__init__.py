"""Consumer repositories: find references to our images (references, classify, scan) and move them to
`-latest` (migrate). Sources are local checkouts or Azure DevOps branches (sources, via lifecycle.azdo)."""
