"""Which template set renders a draft: the `production` label unless the request or eval names another.

Versions are immutable, so a loaded set is cached by version id and never goes stale; the label is read on
every draft (one primary-key lookup), so a publish or rollback in any worker takes effect on the next draft
everywhere without a cache to invalidate across processes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from drafter.prompting import PromptRenderer, TemplateSet
from drafter.storage.models import TemplateVersion
from drafter.templates.refs import TemplateRef
from drafter.templates.store import TemplateStore


@dataclass(frozen=True, slots=True)
class ActiveTemplates:
    """The renderer for one draft and the database version behind it."""

    renderer: PromptRenderer
    version_id: str | None


def template_set_of(row: TemplateVersion) -> TemplateSet:
    """Build (and statically validate) the set stored in a version; its label is name@<database version>."""
    loaded = TemplateSet.from_files(row.files, origin=f"{row.set_name}@{row.version}")
    manifest = loaded.manifest.model_copy(update={"name": row.set_name, "version": row.version})
    return TemplateSet(manifest, loaded.sources, loaded.exemplars)


class TemplateResolver:
    """Resolves template references to cached renderers."""

    def __init__(self, store: TemplateStore, *, default_set: str, cache_size: int = 32) -> None:
        self.store = store
        self.default_set = default_set
        self._cache: OrderedDict[str, PromptRenderer] = OrderedDict()
        self._cache_size = cache_size

    def parse(self, ref: str | None) -> TemplateRef:
        """A reference from a request (None: the default set's production label)."""
        return TemplateRef.parse(ref or "", default_set=self.default_set)

    async def resolve(self, ref: str | TemplateRef | None = None) -> ActiveTemplates:
        """The renderer for a reference; one label read per call, the set itself from the cache when loaded."""
        parsed = ref if isinstance(ref, TemplateRef) else self.parse(ref)
        if parsed.version is None:
            label = await self.store.label(parsed.set_name, parsed.label or "production")
            if label is not None:
                return await self.by_version_id(label.version_id)
        row = await self.store.resolve(parsed)  # a version number, or NotFoundError naming the missing label
        return ActiveTemplates(self.renderer_for(row), row.id)

    async def by_version_id(self, version_id: str) -> ActiveTemplates:
        """The renderer of a version whose id is known (from a label read elsewhere): cached, else loaded."""
        cached = self._cache.get(version_id)
        if cached is not None:
            self._cache.move_to_end(version_id)
            return ActiveTemplates(cached, version_id)
        return ActiveTemplates(self.renderer_for(await self.store.version_by_id(version_id)), version_id)

    def renderer_for(self, row: TemplateVersion) -> PromptRenderer:
        """The cached renderer of a stored version (built and validated on first use)."""
        cached = self._cache.get(row.id)
        if cached is None:
            cached = PromptRenderer(template_set_of(row))
            self._cache[row.id] = cached
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(row.id)
        return cached

    def forget(self, version_id: str) -> None:
        """Drop one cached set (versions never change; used by tests and after archiving)."""
        self._cache.pop(version_id, None)
