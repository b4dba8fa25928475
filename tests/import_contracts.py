"""An allow-list contract type for import-linter (`make lint`): the GUI may import only the named torch-free
kernel modules of the engine and the trainers, and nothing else of them.

import-linter's own contract types forbid named modules (a deny-list), so a new engine module would be open
to the GUI until someone remembered to forbid it; this one names what is allowed instead.
"""

from __future__ import annotations

from importlinter import Contract, ContractCheck, fields, output


class AllowListContract(Contract):
    """`source_modules` (and their descendants) import, from the packages in `guarded_packages`, only the
    modules in `allowed_modules` (each an exact module name; `engine` alone means the package's __init__)."""

    type_name = "allow-list"

    source_modules = fields.ListField(subfield=fields.ModuleField())
    guarded_packages = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        guarded = {str(name) for name in self.guarded_packages}
        allowed = {str(name) for name in self.allowed_modules}
        breaches: list[tuple[str, str]] = []
        for source in self.source_modules:
            for importer in sorted({source.name} | graph.find_descendants(source.name)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if imported.split(".")[0] in guarded and imported not in allowed:
                        breaches.append((importer, imported))
        return ContractCheck(kept=not breaches, metadata={"breaches": breaches})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported in check.metadata["breaches"]:
            output.print_error(f"{importer} imports {imported}, which is not on the allow-list", bold=False)
            output.new_line()
