"""The OpenAPI document says exactly what the API accepts.

Litestar's schemas of msgspec types leave out what the API checks: a Struct that refuses
unknown fields, the constraints of anything but a Struct's own fields (a list's items, a
mapping's keys), the written form of a decimal. A client generated from the document, or
schemathesis, then sends what the API refuses. These plugins (consulted before
Litestar's own) add what was left out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from ..interpreter.runtime.wire import AMOUNT, END

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator


class ClosedStructs(StructSchemaPlugin):
    """A Struct with `forbid_unknown_fields` is an object with `additionalProperties: false`."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        config: msgspec.structs.StructConfig = field_definition.type_.__struct_config__
        if config.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


class Decimals(OpenAPISchemaPlugin):
    """A decimal (money, a quantity) is a JSON number or a string of digits with an optional
    point, as the door reads it (runtime.wire.amount); Litestar says only "a string"."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.is_subclass_of(Decimal)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        return Schema(
            type=[OpenAPIType.STRING, OpenAPIType.NUMBER], pattern=f"^{AMOUNT}{END}",
            description="a decimal: a JSON number, or a string such as \"120.50\"",
        )  # fmt: skip


class Constrained(OpenAPISchemaPlugin):
    """A string, list or mapping with msgspec constraints (`Meta(pattern=..., max_length=...)`)
    wherever it is: Litestar applies them to a Struct's own fields only, so a list's items
    (`list[Name]`), a mapping's keys (`dict[FieldName, Any]`) and a union's arms
    (`EventInput | Annotated[list[EventInput], Meta(min_length=1)]`) lost theirs."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        if field_definition.annotation is str or field_definition.is_non_string_sequence:
            return _meta(field_definition) is not None
        return field_definition.is_mapping and bool(
            _meta(field_definition) or (field_definition.inner_types and _meta(field_definition.inner_types[0]))
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        meta = _meta(field_definition)
        least, most = (meta.min_length, meta.max_length) if meta is not None else (None, None)
        if field_definition.annotation is str:
            assert meta is not None
            return Schema(type=OpenAPIType.STRING, pattern=meta.pattern, min_length=least, max_length=most)
        if field_definition.is_non_string_sequence:
            (item,) = field_definition.inner_types
            return Schema(type=OpenAPIType.ARRAY, items=schema_creator.for_field_definition(item), min_items=least,
                          max_items=most)  # fmt: skip
        key, value = field_definition.inner_types
        names = _meta(key)
        return Schema(
            type=OpenAPIType.OBJECT, additional_properties=schema_creator.for_field_definition(value),
            property_names=Schema(type=OpenAPIType.STRING, pattern=names.pattern, min_length=names.min_length,
                                  max_length=names.max_length) if names else None,
            min_properties=least, max_properties=most,
        )  # fmt: skip


def _meta(field_definition: FieldDefinition) -> msgspec.Meta | None:
    return next((m for m in field_definition.metadata if isinstance(m, msgspec.Meta)), None)


#: What the app registers (before Litestar's own plugins, which it adds after these).
PLUGINS = [ClosedStructs(), Decimals(), Constrained()]
