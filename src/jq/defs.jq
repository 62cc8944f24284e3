# flowrun's jq definitions, loaded after jaq's: where jaq's meaning differs from the
# jq 1.8 manual, these win. Natives named `_n_*` are in natives.rs.

def tojson: _n_tojson;
def tostring: _n_tostring;
def fromjson: _n_fromjson;
def tonumber: _n_tonumber;
def length: _n_length;
def utf8bytelength: _n_utf8bytelength;
def contains($x): _n_contains($x);
def inside(xs): . as $x | xs | contains($x);
def has($k): _n_has($k);
def in(xs): . as $x | xs | has($x);
def _strindices($x): _n_strindices($x);
def indices($i): if type == "array" and ($i|type) == "array" then .[$i]
  elif type == "array" then .[[$i]]
  elif type == "string" and ($i|type) == "string" then _strindices($i)
  else .[$i] end;
def index($i): indices($i) | .[0];
def rindex($i): indices($i) | .[-1:][0];
def bsearch($x): _n_bsearch($x);
def implode: _n_implode;
def ltrimstr($x): _n_ltrimstr($x);
def rtrimstr($x): _n_rtrimstr($x);
def trimstr($x): ltrimstr($x) | rtrimstr($x);
def trim: _n_trim;
def ltrim: _n_ltrim;
def rtrim: _n_rtrim;
def builtins: _n_builtins;
def have_decnum: false;
def have_literal_numbers: true;
def input_filename: null;
def ascii: [.] | implode;
def toarray: if type == "array" then . else [.] end;
def abs: if type == "number" and . < 0 then - . elif type == "number" then .
  else error("\(type) (\(tojson)) has no absolute value") end;

# Formats
def @text: tostring;
def @json: tojson;
def @csv: _n_format("csv");
def @tsv: _n_format("tsv");
def @sh: _n_format("sh");
def @html: _n_format("html");
def @uri: _n_format("uri");
def @urid: _n_format("urid");
def @base64: _n_format("base64");
def @base64d: _n_format("base64d");
def @base32: _n_format("base32");
def @base32d: _n_format("base32d");

# Paths: deleting keeps the other keys' order; several indices go at once.
def getpath($p):
  if ($p | type) != "array" then error("Path must be specified as an array")
  else reduce $p[] as $k (.; .[$k]) end;
def setpath($p; $v):
  if ($p | type) != "array" then error("Path must be specified as an array")
  else getpath($p) |= $v end;
def _delpath($p): if ($p | length) == 0 then null else getpath($p) |= empty end;
def delpaths($ps):
  if ($ps | type) != "array" then error("Paths must be specified as an array")
  else reduce ($ps | unique | reverse)[] as $p (.; _delpath($p)) end;
def del(f): delpaths([path(f)]);
def to_entries: [keys_unsorted[] as $k | {key: $k, value: .[$k]}];
def from_entries: reduce .[] as $x ({};
  . + { ($x | if type == "object" then (if has("key") then .key elif has("k") then .k
        elif has("name") then .name elif has("Name") then .Name elif has("K") then .K
        else .Key end) else . end
        | if type == "string" then . elif type == "null" then "null" else tojson end):
      ($x | if type != "object" then null elif has("value") then .value elif has("v") then .v
        else .Value end) });
def with_entries(f): to_entries | map(f) | from_entries;
def paths: path(..) | select(length > 0);
def paths(node_filter): path(.. | select(node_filter)) | select(length > 0);
def leaf_paths: paths(scalars);
def pick(pathexps): . as $in
  | reduce path(pathexps) as $a (null; setpath($a; $in | getpath($a)));
def walk(f): def w: if type == "object" then map_values(w)
  elif type == "array" then map(w) else . end | f; w;
def map_values(f): .[] |= f;

# Generators with jq's errors.
def limit($n; f):
  if $n > 0 then label $out | foreach f as $item ($n; . - 1; $item, if . <= 0 then break $out else empty end)
  elif $n == 0 then empty
  else error("limit doesn't support negative count") end;
def skip($n; f):
  if $n > 0 then foreach f as $item ($n; . - 1; if . < 0 then $item else empty end)
  elif $n == 0 then f
  else error("skip doesn't support negative count") end;
def nth($n; f):
  if $n < 0 then error("nth doesn't support negative indices") else first(skip($n; f)) end;
def first(f): label $out | f | ., break $out;
def isempty(g): first((g | false), true);
def all(g; cond): isempty(g | cond and empty);
def any(g; cond): isempty(g | cond or empty) | not;
def all(cond): all(.[]; cond);
def any(cond): any(.[]; cond);
def all: all(.[]; .);
def any: any(.[]; .);

def join($x): reduce .[] as $i (null;
    (if . == null then "" else . + $x end)
    + ($i | if type == "boolean" or type == "number" then tojson
        elif type == "null" then "" else . end)) // "";
def flatten($d): if $d < 0 then error("flatten depth must not be negative")
  else reduce .[] as $i ([]; if ($i | type) == "array" and $d != 0
    then . + ($i | flatten($d - 1)) else . + [$i] end) end;
def flatten: flatten(1e9);
def splits($re; flags): split($re; flags) | .[];
def splits($re): splits($re; null);
def add(f): reduce f as $x (null; . + $x);
def add: add(.[]);
def min_by(f): reduce min_by_or_empty(f) as $x (null; $x);
def max_by(f): reduce max_by_or_empty(f) as $x (null; $x);

# SQL-style operators.
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] = $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def JOIN($idx; idx_expr): [.[] | [., $idx[idx_expr]]];
def JOIN($idx; stream; idx_expr): stream | [., $idx[idx_expr]];
def JOIN($idx; stream; idx_expr; join_expr): stream | [., $idx[idx_expr]] | join_expr;
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);

# Streams.
def tostream: path(def r: (.[]? | r), .; r) as $p
  | getpath($p) | reduce path(.[]?) as $q ([$p, .]; [$p + $q]);
def fromstream(f): {x: null, e: false} as $init
  | foreach f as $i ($init;
      if .e then $init else . end
      | if $i | length == 2
        then setpath(["e"]; $i[0] | length == 0) | setpath(["x"] + $i[0]; $i[1])
        else setpath(["e"]; $i[0] | length == 1) end;
      if .e then .x else empty end);
def truncate_stream(stream): . as $n | null | stream | . as $input
  | if (.[0] | length) > $n then setpath([0]; $input[0][$n:]) else empty end;
