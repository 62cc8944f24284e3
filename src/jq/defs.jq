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
def abs: if type == "number" and . < 0 then - . else . end;

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
def _path_ok($p):
  if ($p | type) != "array" then error("Path must be specified as an array")
  elif ($p | length) > 10000 then error("Path too deep") else . end;
def getpath($p): _path_ok($p) | reduce $p[] as $k (.; .[$k]);
def setpath($p; $v): _path_ok($p) | getpath($p) |= $v;
# Deleting under a missing parent changes nothing; negative indices count from the end.
def _delpath($p):
  if ($p | length) == 0 then null
  elif getpath($p[:-1]) == null then .
  else getpath($p) |= empty end;
def _normpath($p):
  if ($p | length) > 0 and ($p[-1] | type) == "number" and $p[-1] < 0
  then $p[:-1] + [(getpath($p[:-1]) | length) + $p[-1]] else $p end;
def delpaths($ps):
  if ($ps | type) != "array" then error("Paths must be specified as an array")
  else . as $in
    | reduce ($ps | map(. as $p | $in | _path_ok($p) | _normpath($p)) | unique | reverse)[] as $p
        (.; _delpath($p)) end;
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

# Numbers: jaq defines these by dividing by zero, which is an error in jq.
def nan: _n_nan;
def infinite: _n_infinite;
def isnan: _n_isnan;
def isinfinite: type == "number" and (. == infinite or . == -infinite);
def isfinite: type == "number" and (isinfinite | not);
def isnormal: type == "number" and ((. == 0 or isnan or isinfinite) | not);
def finites: select(isfinite);
def normals: select(isnormal);
def logb: if . == 0 then -infinite elif isinfinite then infinite elif isnan then .
  else ilogb | . + 0.0 end;
def significand: if isinfinite or isnan then . elif . == 0 then 0
  else scalbln(.; ilogb | -1 * .) end;
def toboolean: if type == "boolean" then . elif . == "true" then true
  elif . == "false" then false
  else error("\(_n_describe) cannot be parsed as a boolean") end;

# Time: jq pads short broken-down times with zeros and names the filter in its errors.
def _jaq_strftime($f): strftime($f);
def _jaq_strflocaltime($f): strflocaltime($f);
def _jaq_mktime: mktime;
def _tm($name):
  if type == "number" or (type == "array" and length >= 6 and (.[0] | type) == "number") then .
  elif type == "array" and all(.[]; type == "number") then . + [range(6 - length) | 0]
  else error("\($name) requires parsed datetime inputs") end;
def _fmt($name; $f): if ($f | type) == "string" then . else error("\($name) requires a string format") end;
def strftime($f): _fmt("strftime/1"; $f) | _tm("strftime/1") | _jaq_strftime($f);
def strflocaltime($f): _fmt("strflocaltime/1"; $f) | _tm("strflocaltime/1") | _jaq_strflocaltime($f);
def mktime: if type == "array" then _tm("mktime") | _jaq_mktime else error("mktime requires array of 6 numbers") end;
def todateiso8601: strftime("%Y-%m-%dT%H:%M:%SZ");
def todate: todateiso8601;

# Sorting compares values recursively: jq refuses values nested too deeply.
def _jaq_sort: sort;
def _jaq_sort_by(f): sort_by(f);
def _jaq_group_by(f): group_by(f);
def sort: _n_comparable | _jaq_sort;
def sort_by(f): _n_comparable | _jaq_sort_by(f);
def group_by(f): _n_comparable | _jaq_group_by(f);
def unique_by(f): [group_by(f)[] | .[0]];
def unique: unique_by(.);

# Regular expressions: jq also takes `[regex, flags]` as the one argument.
# jq lists every group of the regex in `captures`: unnamed ones with `name: null`, ones
# that matched nothing with `offset: -1` and `string: null`.
def _jaq_match(re; flags): match(re; flags);
def match(re; flags): _n_groups(re) as $groups
  | _jaq_match(re; flags)
  | .captures as $caps
  | ($caps | map(select(has("name") | not))) as $unnamed
  | .captures = [foreach $groups[] as $g ({u: 0, out: null};
      if $g == null
      then .out = (($unnamed[.u] // {offset: -1, length: 0, string: null}) + {name: null}) | .u += 1
      else .out = (first($caps[] | select(.name == $g)) // {offset: -1, length: 0, string: null, name: $g})
      end;
      .out)];
def capture(re; flags): match(re; flags)
  | [.captures[] | select(.name != null) | {(.name): .string}] | add // {};
def sub($re; str; $flags): . as $in
  | (reduce match($re; $flags) as $edit ({result: [], previous: 0};
      $in[.previous: ($edit | .offset)] as $gap
      | [reduce ($edit | .captures[] | select(.name != null) | {(.name): .string}) as $pair
          ({}; . + $pair) | str] as $inserts
      | reduce range(0; $inserts | length) as $ix (.; .result[$ix] += $gap + $inserts[$ix])
      | .previous = ($edit | .offset + .length))
    | .result[] + $in[.previous:])
  // $in;
def sub($re; str): sub($re; str; "");
def gsub($re; str; $flags): sub($re; str; $flags + "g");
def gsub($re; str): sub($re; str; "g");
def _re_flags($val): if ($val | type) == "array" then $val[1] // "" else "" end;
def _re($val): if ($val | type) == "array" then $val[0] else $val end;
def match($val): match(_re($val); _re_flags($val));
def test($val): test(_re($val); _re_flags($val));
def capture($val): capture(_re($val); _re_flags($val));
