"""XML from outside (coverage and test reports), parsed safely with ``defusedxml``.

A report is data, never a program: entity declarations (the "billion laughs" expansion bomb)
and external entities or references (XXE: ``<!ENTITY x SYSTEM "file:///etc/passwd">``) are
refused before anything is expanded or fetched. A plain ``<!DOCTYPE ...>`` line, as Cobertura
writes one, is allowed: the parser never loads the DTD it names.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, EntitiesForbidden
from defusedxml.ElementTree import fromstring


class XmlError(ValueError):
    """A report that is not well-formed XML, or that the guard refused."""


def parse_xml(data: bytes, where: str) -> Element:
    """The root element of ``data``; :class:`XmlError` names ``where`` and the reason."""
    try:
        root: Element = fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except EntitiesForbidden:
        raise XmlError(
            f"{where}: refused: the XML declares entities (an entity expansion bomb or an"
            " external entity); reports never need them"
        ) from None
    except DefusedXmlException:
        raise XmlError(
            f"{where}: refused: the XML refers to an external resource (external entity)"
        ) from None
    except ParseError as error:
        raise XmlError(f"{where}: not valid XML: {error}") from None
    return root
