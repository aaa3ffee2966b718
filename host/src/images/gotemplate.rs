//! Go's `text/template`, executed over the values Flux's commit message
//! templates see.
//!
//! Why not a crate alone: Flux's template data is Go structs, and its
//! documented examples depend on two things no Rust Go-template engine
//! models. `gtmpl` 0.7.1 (MIT, last release 2021) ranges over maps in hash
//! order and has only string map keys; `gotmpl` 0.6 (MIT, maintained, sorted
//! string-keyed maps, Go-compatible parser) has no structs either. Flux's
//! first example ranges over `.Changed.Objects`, a map keyed by a struct
//! (`{{ $resource.Kind }}`), and prints `.AutomationObject`, a struct whose
//! `String()` gives `namespace/name`. So parsing is `gotmpl`'s (its public
//! parse tree is Go's `text/template/parse`, trim markers, comments,
//! `define`/`block` and all), and this module executes that tree over
//! [`Value`]s that do have structs, struct-keyed maps sorted like Go's
//! `fmtsort`, and `String()` methods.
//!
//! Functions: Go's builtins (`and`, `or`, `not`, `len`, `index`, `slice`,
//! `print`, `printf`, `println`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `html`,
//! `js`, `urlquery`), and the sprig functions of [`SPRIG`] (Flux registers
//! sprig's hermetic text functions; these are the ones about strings, lists
//! and numbers that commit messages use). A template naming any other
//! function is refused when it is parsed, as Go refuses an undefined one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use gotmpl::parse::{BranchNode, CommandNode, Expr, ListNode, Node, Number, Parser, PipeNode};

/// A template value, shaped like the Go values `text/template` sees.
#[derive(Debug, Clone)]
pub enum Value {
    /// An invalid value: a missing map key (prints `<no value>`).
    NoValue,
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float64.
    Float(f64),
    /// A string.
    Str(Rc<str>),
    /// A slice.
    List(Rc<Vec<Value>>),
    /// A map, its entries sorted by key as Go sorts them (`fmtsort`).
    Map(Rc<Map>),
    /// A struct.
    Struct(Rc<Struct>),
}

/// A Go map: entries sorted by key, and the value a missing key yields.
#[derive(Debug)]
pub struct Map {
    entries: Vec<(Value, Value)>,
    zero: Value,
}

/// A Go struct: named fields in declaration order (some embedded, whose
/// fields are promoted), methods without arguments, and the text of its
/// `String()` method if it has one.
#[derive(Debug)]
pub struct Struct {
    /// The type's name, in error messages and `%!verb(type=...)`.
    pub type_name: &'static str,
    /// `(name, value, embedded)` in declaration order.
    pub fields: Vec<(&'static str, Value, bool)>,
    /// Methods taking no argument, with their result.
    pub methods: Vec<(&'static str, Value)>,
    /// What `String()` returns, for a `fmt.Stringer`.
    pub string: Option<String>,
}

impl Value {
    /// A string.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Rc::from(s.as_ref()))
    }

    /// A list.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    /// A map of `entries` (sorted here), yielding `zero` for a missing key.
    pub fn map(mut entries: Vec<(Value, Value)>, zero: Value) -> Value {
        entries.sort_by(|a, b| go_cmp(&a.0, &b.0));
        Value::Map(Rc::new(Map { entries, zero }))
    }

    /// A struct.
    pub fn object(s: Struct) -> Value {
        Value::Struct(Rc::new(s))
    }

    fn truth(&self) -> bool {
        match self {
            Value::NoValue | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Struct(_) => true,
        }
    }

    fn type_name(&self) -> String {
        match self {
            Value::NoValue | Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(m) => match m.entries.first() {
                Some((k, v)) => format!("map[{}]{}", k.type_name(), v.type_name()),
                None => "map".into(),
            },
            Value::Struct(s) => s.type_name.into(),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Go's `fmtsort` order of map keys: numbers and strings by value, `false`
/// before `true`, structs field by field.
fn go_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Struct(x), Value::Struct(y)) => x
            .fields
            .iter()
            .zip(&y.fields)
            .map(|(f, g)| go_cmp(&f.1, &g.1))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    }
}

fn go_eq(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Nil | Value::NoValue, Value::Nil | Value::NoValue) => true,
        (Value::Struct(x), Value::Struct(y)) => {
            x.type_name == y.type_name
                && x.fields.len() == y.fields.len()
                && x.fields
                    .iter()
                    .zip(&y.fields)
                    .try_fold(true, |all, (f, g)| go_eq(&f.1, &g.1).map(|e| all && e))?
        }
        (Value::List(_) | Value::Map(_), _) | (_, Value::List(_) | Value::Map(_)) => {
            return Err(format!(
                "non-comparable type {}",
                if matches!(a, Value::List(_) | Value::Map(_)) {
                    a.type_name()
                } else {
                    b.type_name()
                }
            ))
        }
        _ => return Err("incompatible types for comparison".into()),
    })
}

/// A template that does not parse: the line and Go's (or gotmpl's) words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line in the template.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A template that failed while running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ExecError {
    /// 1-based line in the template.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    root: ListNode,
    defines: HashMap<String, ListNode>,
}

impl Template {
    /// Parse `source`, refusing functions that are neither Go builtins nor in
    /// [`SPRIG`].
    pub fn parse(source: &str) -> Result<Template, ParseError> {
        let (root, defines) = parse_tree(source)?;
        check_balanced(source)?;
        let template = Template {
            root,
            defines: defines
                .into_iter()
                .map(|d| (d.name.to_string(), d.body))
                .collect(),
        };
        check_functions(&template.root)?;
        for body in template.defines.values() {
            check_functions(body)?;
        }
        Ok(template)
    }

    /// Run the template with `data` as dot.
    pub fn execute(&self, data: &Value) -> Result<String, ExecError> {
        let mut state = State {
            template: self,
            vars: vec![("$".into(), data.clone())],
            out: String::new(),
            line: 1,
            depth: 0,
        };
        match state.walk(data, &self.root) {
            Ok(()) => Ok(state.out),
            Err(Stop::Error(message)) => Err(ExecError {
                line: state.line,
                message,
            }),
            Err(Stop::Break | Stop::Continue) => Err(ExecError {
                line: state.line,
                message: "break or continue outside range".into(),
            }),
        }
    }
}

fn parse_tree(source: &str) -> Result<(ListNode, Vec<gotmpl::parse::DefineNode>), ParseError> {
    Parser::new(source, "{{", "}}")
        .and_then(Parser::parse)
        .map_err(|e| match e {
            gotmpl::TemplateError::Parse { line, message, .. }
            | gotmpl::TemplateError::Lex { line, message, .. } => ParseError {
                line: line.max(1),
                message,
            },
            other => ParseError {
                line: 1,
                message: other.to_string(),
            },
        })
}

/// Refuse what Go refuses and gotmpl 0.6's parser lets through: a block
/// left open at the end (`unexpected EOF`), and a top-level `{{end}}` or
/// `{{else}}` (after which gotmpl silently drops the rest). Text appended
/// after the template must come out as the last top-level node; in a block
/// left open it lands inside the block, after a stray `{{end}}` nowhere.
fn check_balanced(source: &str) -> Result<(), ParseError> {
    const SENTINEL: &str = "\u{0}rekon-end-of-template\u{0}";
    let (root, defines) = parse_tree(&format!("{source}{{{{/**/}}}}{SENTINEL}"))?;
    let last_line = |list: &ListNode| list.nodes.last().map_or(1, node_line);
    match root.nodes.last() {
        Some(Node::Text(t)) if t.text.ends_with(SENTINEL) => Ok(()),
        _ if contains_text(&root, SENTINEL)
            || defines.iter().any(|d| contains_text(&d.body, SENTINEL)) =>
        {
            Err(ParseError {
            line: source.lines().count().max(1),
            message: "unexpected EOF: an {{if}}, {{range}}, {{with}}, {{block}} or {{define}} is not closed by {{end}}".into(),
            })
        }
        _ => Err(ParseError {
            line: last_line(&root),
            message: "unexpected {{end}} or {{else}} (after this line) outside any block".into(),
        }),
    }
}

fn node_line(node: &Node) -> usize {
    match node {
        Node::List(l) => l.pos.line,
        Node::Text(t) => t.pos.line,
        Node::Action(a) => a.pos.line,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pos.line,
        Node::Template(t) => t.pos.line,
        Node::Define(d) => d.pos.line,
        Node::Break(p) | Node::Continue(p) => p.line,
    }
}

fn contains_text(list: &ListNode, needle: &str) -> bool {
    list.nodes.iter().any(|node| match node {
        Node::Text(t) => t.text.contains(needle),
        Node::List(l) => contains_text(l, needle),
        Node::If(b) | Node::Range(b) | Node::With(b) => {
            contains_text(&b.body, needle)
                || b.else_body
                    .as_ref()
                    .is_some_and(|e| contains_text(e, needle))
        }
        Node::Define(d) => contains_text(&d.body, needle),
        _ => false,
    })
}

const BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "call",
];

/// The sprig functions rekon implements, with sprig's argument order.
pub const SPRIG: &[&str] = &[
    "lower",
    "upper",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "trunc",
    "abbrev",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "replace",
    "repeat",
    "quote",
    "squote",
    "indent",
    "nindent",
    "nospace",
    "substr",
    "cat",
    "join",
    "splitList",
    "toString",
    "sha256sum",
    "b64enc",
    "b64dec",
    "default",
    "empty",
    "coalesce",
    "ternary",
    "list",
    "first",
    "last",
    "rest",
    "initial",
    "uniq",
    "sortAlpha",
    "has",
    "base",
    "dir",
    "ext",
    "regexMatch",
    "regexFind",
    "regexReplaceAll",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "atoi",
    "int",
    "toJson",
];

fn check_functions(list: &ListNode) -> Result<(), ParseError> {
    fn pipe(p: &PipeNode) -> Result<(), ParseError> {
        for cmd in &p.commands {
            for arg in &cmd.args {
                expr(arg)?;
            }
        }
        Ok(())
    }
    fn expr(e: &Expr) -> Result<(), ParseError> {
        match e {
            Expr::Identifier(pos, name) if !BUILTINS.contains(&&**name) && !SPRIG.contains(&&**name) => {
                Err(ParseError {
                    line: pos.line,
                    message: format!(
                        "function \"{name}\" not defined (rekon has Go's builtins and the sprig functions {})",
                        SPRIG.join(", ")
                    ),
                })
            }
            Expr::Pipe(_, p) => pipe(p),
            Expr::Chain(_, inner, _) => expr(inner),
            _ => Ok(()),
        }
    }
    fn branch(b: &BranchNode) -> Result<(), ParseError> {
        pipe(&b.pipe)?;
        check_functions(&b.body)?;
        b.else_body.as_ref().map_or(Ok(()), check_functions)
    }
    for node in &list.nodes {
        match node {
            Node::List(l) => check_functions(l)?,
            Node::Action(a) => pipe(&a.pipe)?,
            Node::If(b) | Node::Range(b) | Node::With(b) => branch(b)?,
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    pipe(p)?;
                }
            }
            Node::Define(d) => check_functions(&d.body)?,
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
    Ok(())
}

enum Stop {
    Error(String),
    Break,
    Continue,
}

impl From<String> for Stop {
    fn from(e: String) -> Stop {
        Stop::Error(e)
    }
}

type Res<T> = Result<T, Stop>;

struct State<'t> {
    template: &'t Template,
    vars: Vec<(String, Value)>,
    out: String,
    /// The line of the node being run, for errors.
    line: usize,
    depth: usize,
}

impl State<'_> {
    fn walk(&mut self, dot: &Value, list: &ListNode) -> Res<()> {
        for node in &list.nodes {
            self.node(dot, node)?;
        }
        Ok(())
    }

    fn node(&mut self, dot: &Value, node: &Node) -> Res<()> {
        match node {
            Node::Text(t) => self.out.push_str(&t.text),
            Node::List(l) => self.walk(dot, l)?,
            Node::Action(a) => {
                self.line = a.pos.line;
                let value = self.pipeline(dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    match value {
                        Value::NoValue => self.out.push_str("<no value>"),
                        v => self.out.push_str(&fmt_v(&v)),
                    }
                }
            }
            Node::If(b) | Node::With(b) => {
                let with = matches!(node, Node::With(_));
                self.line = b.pos.line;
                let mark = self.vars.len();
                let value = self.pipeline(dot, &b.pipe)?;
                let result = if value.truth() {
                    self.walk(if with { &value } else { dot }, &b.body)
                } else if let Some(e) = &b.else_body {
                    self.walk(dot, e)
                } else {
                    Ok(())
                };
                self.vars.truncate(mark);
                result?;
            }
            Node::Range(b) => {
                self.line = b.pos.line;
                let mark = self.vars.len();
                let result = self.range(dot, b);
                self.vars.truncate(mark);
                result?;
            }
            Node::Template(t) => {
                self.line = t.pos.line;
                let Some(body) = self.template.defines.get(t.name.as_str()) else {
                    return Err(format!("no such template \"{}\"", t.name).into());
                };
                let new_dot = match &t.pipe {
                    Some(p) => self.pipeline(dot, p)?,
                    None => Value::Nil,
                };
                if self.depth >= 100 {
                    return Err("exceeded maximum template depth (100)".to_string().into());
                }
                let vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                self.depth += 1;
                let result = self.walk(&new_dot, body);
                self.depth -= 1;
                self.vars = vars;
                result?;
            }
            Node::Define(_) => {}
            Node::Break(_) => return Err(Stop::Break),
            Node::Continue(_) => return Err(Stop::Continue),
        }
        Ok(())
    }

    fn range(&mut self, dot: &Value, b: &BranchNode) -> Res<()> {
        let value = self.pipeline(dot, &b.pipe)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(m) => m.entries.clone(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::NoValue | Value::Nil => Vec::new(),
            other => {
                return Err(format!("range can't iterate over {}", fmt_v(other)).into());
            }
        };
        if items.is_empty() {
            if let Some(e) = &b.else_body {
                self.walk(dot, e)?;
            }
            return Ok(());
        }
        let mark = self.vars.len();
        for (index, elem) in items {
            match b.pipe.decl.as_slice() {
                [] => {}
                [v] => self.set(v, elem.clone(), b.pipe.is_assign, mark, 1)?,
                [i, v] => {
                    self.set(i, index, b.pipe.is_assign, mark, 2)?;
                    self.set(v, elem.clone(), b.pipe.is_assign, mark, 1)?;
                }
                _ => return Err("too many range variables".to_string().into()),
            }
            let result = self.walk(&elem, &b.body);
            self.vars.truncate(mark);
            match result {
                Ok(()) | Err(Stop::Continue) => {}
                Err(Stop::Break) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Set a range variable: assign to an existing one (`=`), or the
    /// `from_top`-th variable pushed by the range's pipeline (`:=`).
    fn set(
        &mut self,
        name: &str,
        value: Value,
        assign: bool,
        mark: usize,
        from_top: usize,
    ) -> Res<()> {
        if assign {
            return self.assign(name, value);
        }
        self.vars[mark - from_top].1 = value;
        Ok(())
    }

    fn assign(&mut self, name: &str, value: Value) -> Res<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(format!("undefined variable: {name}").into()),
        }
    }

    fn var(&self, name: &str) -> Res<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Stop::Error(format!("undefined variable: {name}")))
    }

    fn pipeline(&mut self, dot: &Value, pipe: &PipeNode) -> Res<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.commands {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::NoValue);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.assign(name, value.clone())?;
            } else {
                self.vars.push((name.to_string(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(&mut self, dot: &Value, cmd: &CommandNode, last: Option<Value>) -> Res<Value> {
        self.line = cmd.pos.line;
        let first = &cmd.args[0];
        let args = &cmd.args[1..];
        let has_args = !args.is_empty() || last.is_some();
        match first {
            Expr::Identifier(_, name) => return self.call(dot, name, args, last),
            Expr::Field(_, fields) => return fields_of(dot.clone(), fields, has_args),
            Expr::Variable(_, name, fields) => {
                return fields_of(self.var(name)?, fields, has_args);
            }
            Expr::Chain(_, inner, fields) => {
                let base = self.arg(dot, inner)?;
                return fields_of(base, fields, has_args);
            }
            Expr::Nil(_) => return Err("nil is not a command".to_string().into()),
            _ => {}
        }
        if has_args {
            return Err(format!("can't give argument to non-function {}", describe(first)).into());
        }
        self.arg(dot, first)
    }

    fn arg(&mut self, dot: &Value, e: &Expr) -> Res<Value> {
        Ok(match e {
            Expr::Dot(_) => dot.clone(),
            Expr::Field(_, fields) => fields_of(dot.clone(), fields, false)?,
            Expr::Variable(_, name, fields) => fields_of(self.var(name)?, fields, false)?,
            Expr::Identifier(_, name) => self.call(dot, name, &[], None)?,
            Expr::String(_, s) => Value::Str(Rc::from(&**s)),
            Expr::Number(_, Number::Int(i)) => Value::Int(*i),
            Expr::Number(_, Number::Uint(u)) => Value::Float(*u as f64),
            Expr::Number(_, Number::Float(f)) => Value::Float(*f),
            Expr::Bool(_, b) => Value::Bool(*b),
            Expr::Nil(_) => Value::Nil,
            Expr::Pipe(_, p) => {
                let mark = self.vars.len();
                let v = self.pipeline(dot, p);
                self.vars.truncate(mark);
                v?
            }
            Expr::Chain(_, inner, fields) => {
                let base = self.arg(dot, inner)?;
                fields_of(base, fields, false)?
            }
        })
    }

    fn call(&mut self, dot: &Value, name: &str, args: &[Expr], last: Option<Value>) -> Res<Value> {
        if name == "and" || name == "or" {
            // Short-circuit, as Go does since 1.18.
            let mut value = None;
            let count = args.len() + usize::from(last.is_some());
            if count == 0 {
                return Err(
                    format!("wrong number of args for {name}: want at least 1 got 0").into(),
                );
            }
            for a in args {
                let v = self.arg(dot, a)?;
                if v.truth() != (name == "and") {
                    return Ok(v);
                }
                value = Some(v);
            }
            return Ok(last.or(value).unwrap_or(Value::NoValue));
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(match self.arg(dot, a)? {
                Value::NoValue => Value::Nil,
                v => v,
            });
        }
        values.extend(last);
        call(name, &values).map_err(|e| Stop::Error(format!("error calling {name}: {e}")))
    }
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Dot(_) => ".".into(),
        Expr::String(_, s) => format!("{s:?}"),
        Expr::Number(_, Number::Int(i)) => i.to_string(),
        Expr::Number(_, n) => format!("{n:?}"),
        Expr::Bool(_, b) => b.to_string(),
        _ => "value".into(),
    }
}

fn fields_of(mut value: Value, fields: &[gotmpl::parse::SmolStr], has_args: bool) -> Res<Value> {
    for (i, name) in fields.iter().enumerate() {
        if has_args && i + 1 == fields.len() {
            return Err(format!("{name} is not a method but has arguments").into());
        }
        value = field(&value, name)?;
    }
    if has_args && fields.is_empty() {
        return Err("can't give argument to non-function".to_string().into());
    }
    Ok(value)
}

fn field(value: &Value, name: &str) -> Res<Value> {
    match value {
        Value::Struct(s) => {
            if let Some((_, v)) = s.methods.iter().find(|(n, _)| *n == name) {
                return Ok(v.clone());
            }
            promoted(s, name).ok_or_else(|| {
                Stop::Error(format!(
                    "can't evaluate field {name} in type {}",
                    s.type_name
                ))
            })
        }
        Value::Map(m) => match m.entries.first() {
            Some((Value::Str(_), _)) | None => Ok(m
                .entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .map_or(Value::NoValue, |(_, v)| v.clone())),
            Some(_) => {
                Err(format!("can't evaluate field {name} in type {}", value.type_name()).into())
            }
        },
        Value::NoValue => Ok(Value::NoValue),
        Value::Nil => Err(format!("nil pointer evaluating interface {{}}.{name}").into()),
        other => Err(format!("can't evaluate field {name} in type {}", other.type_name()).into()),
    }
}

/// A field of `s` or, breadth first, of its embedded structs.
fn promoted(s: &Struct, name: &str) -> Option<Value> {
    if let Some((_, v, _)) = s.fields.iter().find(|(n, _, _)| *n == name) {
        return Some(v.clone());
    }
    s.fields.iter().find_map(|(_, v, embedded)| match v {
        Value::Struct(inner) if *embedded => promoted(inner, name),
        _ => None,
    })
}

// ---- formatting, as Go's fmt ----

/// `%v` (and what an action prints).
fn fmt_v(v: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, v);
    out
}

fn write_v(out: &mut String, v: &Value) {
    match v {
        Value::NoValue | Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&fmt_float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, k);
                out.push(':');
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Struct(s) => match &s.string {
            Some(text) => out.push_str(text),
            None => {
                out.push('{');
                for (i, (_, item, _)) in s.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    write_v(out, item);
                }
                out.push('}');
            }
        },
    }
}

/// Go's `%v` of a float64: `%g` with the shortest digits.
fn fmt_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{f:e}");
    let (mantissa, exp) = e.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    // strconv's shortest %g: an exponent from 6 digits before the point on.
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

fn fmt_float(f: f64, verb: char, precision: Option<usize>) -> String {
    match verb {
        'f' | 'F' => format!("{f:.*}", precision.unwrap_or(6)),
        'e' | 'E' => {
            let s = format!("{f:.*e}", precision.unwrap_or(6));
            let (m, exp) = s.split_once('e').expect("an exponent");
            let exp: i32 = exp.parse().expect("an integer exponent");
            let sign = if exp < 0 { '-' } else { '+' };
            let s = format!("{m}e{sign}{:02}", exp.abs());
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => fmt_float_g(f),
    }
}

/// Go's `strconv.Quote` for printable text.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil | Value::NoValue => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), fmt_v(v)),
    }
}

/// Go's `fmt.Sprintf` for the verbs a commit message uses: `%v %s %q %d
/// %t %x %X %c %f %e %g %%` with flags `-+0 #`, width and precision.
fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            precision = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let text = match (verb, arg) {
            ('v', v) => fmt_v(v),
            ('s', Value::Str(s)) => s.to_string(),
            ('s', v @ (Value::List(_) | Value::Map(_) | Value::Struct(_))) => fmt_v(v),
            ('q', Value::Str(s)) => go_quote(s),
            ('q', Value::Int(i)) => match char::from_u32(*i as u32) {
                Some(c) => format!("'{c}'"),
                None => bad_verb(verb, arg),
            },
            ('d', Value::Int(i)) => i.to_string(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('x', Value::Str(s)) => hex::encode(s.as_bytes()),
            ('X', Value::Str(s)) => hex::encode_upper(s.as_bytes()),
            ('c', Value::Int(i)) => {
                char::from_u32(*i as u32).map_or_else(|| "\u{FFFD}".into(), String::from)
            }
            ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Float(f)) => fmt_float(*f, verb, precision),
            _ => bad_verb(verb, arg),
        };
        let text = match (verb, precision) {
            ('s' | 'v' | 'q', Some(p)) if matches!(arg, Value::Str(_)) => {
                text.chars().take(p).collect()
            }
            _ => text,
        };
        let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
        let text = if numeric && !text.starts_with('-') && (plus || space) {
            format!("{}{text}", if plus { '+' } else { ' ' })
        } else {
            text
        };
        let len = text.chars().count();
        match width {
            Some(w) if w > len => {
                let pad = w - len;
                if minus {
                    out.push_str(&text);
                    out.extend(std::iter::repeat_n(' ', pad));
                } else if zero && numeric {
                    let (sign, digits) = match text.strip_prefix(['-', '+', ' ']) {
                        Some(rest) => (&text[..1], rest),
                        None => ("", text.as_str()),
                    };
                    out.push_str(sign);
                    out.extend(std::iter::repeat_n('0', pad));
                    out.push_str(digits);
                } else {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(&text);
                }
            }
            _ => out.push_str(&text),
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", a.type_name(), fmt_v(a));
        }
        out.push(')');
    }
    out
}

/// `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out
}

// ---- functions ----

fn want_str<'v>(name: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {} (in {name})",
            v.type_name()
        )
    })
}

fn want_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(format!(
            "wrong type for value; expected int; got {}",
            other.type_name()
        )),
    }
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// sprig's `toString` (`strval`): a string as is, else `%v`.
fn strval(v: &Value) -> String {
    match v {
        Value::Nil | Value::NoValue => "<nil>".into(),
        v => fmt_v(v),
    }
}

fn items(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::List(l) => Ok(l.to_vec()),
        Value::Nil | Value::NoValue => Ok(Vec::new()),
        other => Err(format!(
            "cannot find the list in type {}",
            other.type_name()
        )),
    }
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Value::Str(x), Value::Str(y)) => Ok(x.as_bytes().cmp(y.as_bytes())),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => Err("incompatible types for comparison".into()),
        _ => Err(format!("invalid type for comparison in {name}")),
    }
}

fn empty(v: &Value) -> bool {
    !v.truth()
}

fn call(name: &str, a: &[Value]) -> Result<Value, String> {
    let s = |i: usize| -> Result<&str, String> {
        a.get(i)
            .ok_or_else(|| format!("wrong number of args for {name}: want more than {i}"))
            .and_then(|v| want_str(name, v))
    };
    let i = |n: usize| -> Result<i64, String> {
        a.get(n)
            .ok_or_else(|| format!("wrong number of args for {name}: want more than {n}"))
            .and_then(want_int)
    };
    Ok(match name {
        // Go's builtins.
        "not" => {
            arity(name, a, 1)?;
            Value::Bool(!a[0].truth())
        }
        "len" => {
            arity(name, a, 1)?;
            Value::Int(match &a[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.entries.len(),
                other => return Err(format!("len of type {}", other.type_name())),
            } as i64)
        }
        "index" => {
            let Some((first, keys)) = a.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            let mut v = first.clone();
            for key in keys {
                v = match (&v, key) {
                    (Value::List(l), k) => {
                        let n = want_int(k)?;
                        l.get(usize::try_from(n).map_err(|_| format!("index out of range: {n}"))?)
                            .cloned()
                            .ok_or_else(|| format!("index out of range: {n}"))?
                    }
                    (Value::Str(s), k) => {
                        let n = want_int(k)?;
                        let byte = usize::try_from(n).ok().and_then(|n| s.as_bytes().get(n));
                        Value::Int(i64::from(
                            *byte.ok_or_else(|| format!("index out of range: {n}"))?,
                        ))
                    }
                    (Value::Map(m), k) => {
                        let mut found = None;
                        for (mk, mv) in &m.entries {
                            if go_eq(mk, k)? {
                                found = Some(mv.clone());
                                break;
                            }
                        }
                        found.unwrap_or_else(|| m.zero.clone())
                    }
                    (Value::Nil | Value::NoValue, _) => return Err("index of untyped nil".into()),
                    (other, _) => {
                        return Err(format!("can't index item of type {}", other.type_name()))
                    }
                };
            }
            v
        }
        "slice" => {
            let Some((first, bounds)) = a.split_first() else {
                return Err("wrong number of args for slice: want at least 1 got 0".into());
            };
            let len = match first {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                other => return Err(format!("can't slice item of type {}", other.type_name())),
            };
            let idx: Vec<usize> = bounds
                .iter()
                .map(|b| {
                    want_int(b).and_then(|n| {
                        usize::try_from(n).map_err(|_| format!("index out of range: {n}"))
                    })
                })
                .collect::<Result<_, _>>()?;
            let (lo, hi) = match idx.as_slice() {
                [] => (0, len),
                [lo] => (*lo, len),
                [lo, hi] => (*lo, *hi),
                _ => return Err("too many slice indexes".into()),
            };
            if lo > hi || hi > len {
                return Err(format!("index out of range: {hi}"));
            }
            match first {
                Value::Str(s) => Value::str(s.get(lo..hi).ok_or("slice splits a character")?),
                Value::List(l) => Value::list(l[lo..hi].to_vec()),
                _ => unreachable!("checked above"),
            }
        }
        "print" => Value::str(sprint(a)),
        "println" => {
            let mut line = a.iter().map(fmt_v).collect::<Vec<_>>().join(" ");
            line.push('\n');
            Value::str(line)
        }
        "printf" => {
            let format = s(0)?;
            Value::str(sprintf(format, &a[1..]))
        }
        "eq" => {
            if a.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            let mut any = false;
            for b in &a[1..] {
                any |= go_eq(&a[0], b)?;
            }
            Value::Bool(any)
        }
        "ne" => {
            arity(name, a, 2)?;
            Value::Bool(!go_eq(&a[0], &a[1])?)
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, a, 2)?;
            let o = compare(name, &a[0], &a[1])?;
            Value::Bool(match name {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        "html" => Value::str(
            sprint(a)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        ),
        "js" => Value::str(sprint(a).chars().fold(String::new(), |mut out, c| {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '"' => out.push_str("\\\""),
                '<' => out.push_str("\\u003C"),
                '>' => out.push_str("\\u003E"),
                '&' => out.push_str("\\u0026"),
                '=' => out.push_str("\\u003D"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
            out
        })),
        "urlquery" => Value::str(sprint(a).bytes().fold(String::new(), |mut out, b| {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                b => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            out
        })),
        "call" => return Err("the template data has no functions to call".into()),
        // sprig: strings (the string argument comes last).
        "lower" => Value::str(s(0)?.to_lowercase()),
        "upper" => Value::str(s(0)?.to_uppercase()),
        "title" => {
            let mut out = String::new();
            let mut start = true;
            for c in s(0)?.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Value::str(out)
        }
        "trim" => Value::str(s(0)?.trim()),
        "trimAll" => {
            let cut: Vec<char> = s(0)?.chars().collect();
            Value::str(s(1)?.trim_matches(cut.as_slice()))
        }
        "trimPrefix" => Value::str(s(1)?.strip_prefix(s(0)?).unwrap_or(s(1)?)),
        "trimSuffix" => Value::str(s(1)?.strip_suffix(s(0)?).unwrap_or(s(1)?)),
        "trunc" => {
            let (n, text) = (i(0)?, s(1)?);
            let len = text.len() as i64;
            Value::str(if n < 0 && -n < len {
                &text[(len + n) as usize..]
            } else if n >= 0 && len > n {
                &text[..n as usize]
            } else {
                text
            })
        }
        "abbrev" => {
            let (n, text) = (i(0)?, s(1)?);
            if n < 4 || text.len() as i64 <= n {
                Value::str(text)
            } else {
                Value::str(format!("{}...", &text[..(n - 3) as usize]))
            }
        }
        "contains" => Value::Bool(s(1)?.contains(s(0)?)),
        "hasPrefix" => Value::Bool(s(1)?.starts_with(s(0)?)),
        "hasSuffix" => Value::Bool(s(1)?.ends_with(s(0)?)),
        "replace" => Value::str(s(2)?.replace(s(0)?, s(1)?)),
        "repeat" => Value::str(s(1)?.repeat(usize::try_from(i(0)?).unwrap_or(0))),
        "quote" => Value::str(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil | Value::NoValue))
                .map(|v| go_quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => Value::str(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil | Value::NoValue))
                .map(|v| format!("'{}'", strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "indent" | "nindent" => {
            let pad = " ".repeat(usize::try_from(i(0)?).unwrap_or(0));
            let text = format!("{pad}{}", s(1)?.replace('\n', &format!("\n{pad}")));
            Value::str(if name == "nindent" {
                format!("\n{text}")
            } else {
                text
            })
        }
        "nospace" => Value::str(s(0)?.split_whitespace().collect::<String>()),
        "substr" => {
            let (start, end, text) = (i(0)?, i(1)?, s(2)?);
            let len = text.len() as i64;
            let start = start.clamp(0, len) as usize;
            let end = if end < 0 || end > len {
                len as usize
            } else {
                end as usize
            };
            Value::str(text.get(start..end.max(start)).unwrap_or(""))
        }
        "cat" => Value::str(
            a.iter()
                .filter(|v| !matches!(v, Value::Nil | Value::NoValue))
                .map(strval)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "join" => {
            arity(name, a, 2)?;
            let sep = s(0)?;
            let parts: Vec<String> = match &a[1] {
                Value::List(l) => l.iter().map(strval).collect(),
                other => vec![strval(other)],
            };
            Value::str(parts.join(sep))
        }
        "splitList" => Value::list(s(1)?.split(s(0)?).map(Value::str).collect()),
        "toString" => {
            arity(name, a, 1)?;
            Value::str(strval(&a[0]))
        }
        "sha256sum" => {
            use sha2::Digest;
            Value::str(hex::encode(sha2::Sha256::digest(s(0)?.as_bytes())))
        }
        "b64enc" => {
            use base64::Engine;
            Value::str(base64::engine::general_purpose::STANDARD.encode(s(0)?))
        }
        "b64dec" => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(s(0)?) {
                Ok(bytes) => Value::str(String::from_utf8_lossy(&bytes)),
                Err(e) => Value::str(e.to_string()),
            }
        }
        // sprig: defaults and logic.
        "default" => match a {
            [d] => d.clone(),
            [d, given] => {
                if empty(given) {
                    d.clone()
                } else {
                    given.clone()
                }
            }
            _ => {
                return Err(format!(
                    "wrong number of args for default: want 1 or 2 got {}",
                    a.len()
                ))
            }
        },
        "empty" => {
            arity(name, a, 1)?;
            Value::Bool(empty(&a[0]))
        }
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil),
        "ternary" => {
            arity(name, a, 3)?;
            if a[2].truth() {
                a[0].clone()
            } else {
                a[1].clone()
            }
        }
        // sprig: lists.
        "list" => Value::list(a.to_vec()),
        "first" | "last" | "rest" | "initial" => {
            arity(name, a, 1)?;
            let l = items(&a[0])?;
            match name {
                "first" => l.first().cloned().unwrap_or(Value::Nil),
                "last" => l.last().cloned().unwrap_or(Value::Nil),
                "rest" => Value::list(l.get(1..).unwrap_or_default().to_vec()),
                _ => Value::list(l[..l.len().saturating_sub(1)].to_vec()),
            }
        }
        "uniq" => {
            arity(name, a, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in items(&a[0])? {
                let mut seen = false;
                for o in &out {
                    seen |= go_eq(o, &v).unwrap_or(false);
                }
                if !seen {
                    out.push(v);
                }
            }
            Value::list(out)
        }
        "sortAlpha" => {
            arity(name, a, 1)?;
            let mut out: Vec<String> = items(&a[0])?.iter().map(strval).collect();
            out.sort();
            Value::list(out.into_iter().map(Value::str).collect())
        }
        "has" => {
            arity(name, a, 2)?;
            let mut found = false;
            for v in items(&a[1])? {
                found |= go_eq(&a[0], &v).unwrap_or(false);
            }
            Value::Bool(found)
        }
        // sprig: paths.
        "base" | "dir" | "ext" => {
            let p = s(0)?;
            let trimmed = p.trim_end_matches('/');
            match name {
                "base" if p.is_empty() => Value::str("."),
                "base" if trimmed.is_empty() => Value::str("/"),
                "base" => Value::str(trimmed.rsplit('/').next().unwrap_or(trimmed)),
                "dir" => Value::str(match p.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &p[..i],
                    None => ".",
                }),
                _ => {
                    let base = p.rsplit('/').next().unwrap_or(p);
                    Value::str(base.rfind('.').map_or("", |i| &base[i..]))
                }
            }
        }
        // sprig: regular expressions (Go's RE2 syntax; regex is close to it).
        "regexMatch" | "regexFind" | "regexReplaceAll" => {
            let re = regex::Regex::new(s(0)?).map_err(|e| e.to_string())?;
            match name {
                "regexMatch" => Value::Bool(re.is_match(s(1)?)),
                "regexFind" => Value::str(re.find(s(1)?).map_or("", |m| m.as_str())),
                _ => Value::str(re.replace_all(s(1)?, s(2)?)),
            }
        }
        // sprig: integer arithmetic.
        "add" => Value::Int(a.iter().map(want_int).sum::<Result<i64, _>>()?),
        "mul" => Value::Int(a.iter().map(want_int).product::<Result<i64, _>>()?),
        "sub" | "div" | "mod" => {
            arity(name, a, 2)?;
            let (x, y) = (i(0)?, i(1)?);
            Value::Int(match name {
                "sub" => x - y,
                _ if y == 0 => return Err("integer divide by zero".into()),
                "div" => x / y,
                _ => x % y,
            })
        }
        "max" | "min" => {
            let all: Vec<i64> = a.iter().map(want_int).collect::<Result<_, _>>()?;
            let pick = if name == "max" {
                all.iter().max()
            } else {
                all.iter().min()
            };
            Value::Int(*pick.ok_or("wrong number of args: want at least 1")?)
        }
        "atoi" => Value::Int(s(0)?.parse().unwrap_or(0)),
        "int" => {
            arity(name, a, 1)?;
            Value::Int(match &a[0] {
                Value::Str(t) => t.parse().unwrap_or(0),
                Value::Float(f) => *f as i64,
                Value::Bool(b) => i64::from(*b),
                v => want_int(v).unwrap_or(0),
            })
        }
        "toJson" => {
            arity(name, a, 1)?;
            Value::str(to_json(&a[0]).to_string())
        }
        other => return Err(format!("function \"{other}\" not defined")),
    })
}

/// `encoding/json` of a value: structs by field name, maps by key text.
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::NoValue | Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Str(s) => J::from(&**s),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.entries
                .iter()
                .map(|(k, v)| (strval(k), to_json(v)))
                .collect(),
        ),
        Value::Struct(s) => {
            let mut out = serde_json::Map::new();
            for (name, value, embedded) in &s.fields {
                match (embedded, to_json(value)) {
                    (true, J::Object(inner)) => out.extend(inner),
                    (_, j) => {
                        out.insert((*name).to_string(), j);
                    }
                }
            }
            J::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(template: &str, data: &Value) -> Result<String, String> {
        Template::parse(template)
            .map_err(|e| e.to_string())?
            .execute(data)
            .map_err(|e| e.to_string())
    }

    fn data() -> Value {
        let point = |x: i64, y: &str| {
            Value::object(Struct {
                type_name: "main.P",
                fields: vec![("X", Value::Int(x), false), ("Y", Value::str(y), false)],
                methods: vec![],
                string: None,
            })
        };
        Value::map(
            vec![
                (Value::str("s"), Value::str("hello")),
                (Value::str("n"), Value::Int(3)),
                (
                    Value::str("l"),
                    Value::list(vec![Value::str("b"), Value::str("a")]),
                ),
                (
                    Value::str("m"),
                    Value::map(
                        vec![
                            (point(2, "a"), Value::str("two")),
                            (point(1, "z"), Value::str("one")),
                        ],
                        Value::str(""),
                    ),
                ),
            ],
            Value::NoValue,
        )
    }

    #[test]
    fn go_semantics() {
        let d = data();
        for (template, want) in [
            ("{{.s}} {{.n}} {{.l}}", "hello 3 [b a]"),
            ("{{.missing}}", "<no value>"),
            (
                "{{range $k, $v := .m}}{{$k.X}}{{$k.Y}}={{$v}};{{end}}",
                "1z=one;2a=two;",
            ),
            ("{{.m}}", "map[{1 z}:one {2 a}:two]"),
            ("{{range .l}}{{.}}{{else}}none{{end}}", "ba"),
            ("{{range .nothing}}x{{else}}none{{end}}", "none"),
            (
                "{{range $i, $e := .l}}{{if $i}},{{end}}{{$e}}{{end}}",
                "b,a",
            ),
            ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
            (
                "{{range .l}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
                "a",
            ),
            ("{{range .l}}{{break}}{{end}}done", "done"),
            ("{{with .s}}{{.}}!{{end}}", "hello!"),
            ("{{len .l}} {{index .l 1}} {{slice .s 1 3}}", "2 a el"),
            (
                "{{printf \"%s-%05d-%q-%v-%x\" .s .n .s .l 255}}",
                "hello-00003-\"hello\"-[b a]-ff",
            ),
            ("{{printf \"%d\" .s}}", "%!d(string=hello)"),
            ("{{printf \"%s %s\" .s}}", "hello %!s(MISSING)"),
            ("{{print 1 2 \"a\" 3}}", "1 2a3"),
            ("{{println .s .n}}", "hello 3\n"),
            ("{{and 1 0 2}} {{or 0 \"\" 3}} {{not 0}}", "0 3 true"),
            ("{{if and .s (gt .n 2)}}yes{{end}}", "yes"),
            ("{{- /* c */ -}}  {{ .s -}}  !", "hello!"),
            (
                "{{define \"t\"}}[{{.}}]{{end}}{{template \"t\" .s}}",
                "[hello]",
            ),
            ("{{.s | upper | printf \"%s!\"}}", "HELLO!"),
            ("{{\"a-b-c\" | splitList \"-\" | join \"+\"}}", "a+b+c"),
            ("{{trunc 3 .s}} {{trunc -2 .s}}", "hel lo"),
            ("{{.m | toString}}", "map[{1 z}:one {2 a}:two]"),
            ("{{sha256sum \"abc\" | trunc 8}}", "ba7816bf"),
            ("{{default \"d\" .missing}} {{default \"d\" .s}}", "d hello"),
            ("{{range 3}}{{.}}{{end}}", "012"),
            ("{{1.5}} {{1e21}}", "1.5 1e+21"),
        ] {
            assert_eq!(run(template, &d).as_deref(), Ok(want), "{template}");
        }
    }

    #[test]
    fn errors_name_the_line() {
        let d = data();
        assert_eq!(
            run("ok\n{{.n.X}}", &d).unwrap_err(),
            "line 2: can't evaluate field X in type int"
        );
        let err = run("a\n\n{{range .l}}", &d).unwrap_err();
        assert!(err.starts_with("line 3: unexpected EOF"), "{err}");
        let err = run("a\n{{if 1}}{{else}}{{end}}\n{{end}} dropped", &d).unwrap_err();
        assert!(err.contains("unexpected {{end}}"), "{err}");
        let err = run("{{define \"t\"}}x", &d).unwrap_err();
        assert!(err.contains("unexpected EOF"), "{err}");
        let err = run("{{ .s | }}", &d).unwrap_err();
        assert!(err.starts_with("line 1: "), "{err}");
        let err = run("{{ nope .s }}", &d).unwrap_err();
        assert!(
            err.starts_with("line 1: function \"nope\" not defined"),
            "{err}"
        );
        let err = run("{{ .s 1 }}", &d).unwrap_err();
        assert!(err.contains("has arguments"), "{err}");
        let err = run("\n{{ index .l 5 }}", &d).unwrap_err();
        assert_eq!(err, "line 2: error calling index: index out of range: 5");
        let err = run("{{ lt .s 1 }}", &d).unwrap_err();
        assert!(err.contains("incompatible types"), "{err}");
    }
}
