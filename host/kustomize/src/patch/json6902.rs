//! JSON Patch (RFC 6902) with JSON Pointers (RFC 6901).
//!
//! Written here rather than taken from a crate: it is small, and owning it
//! lets a failure say which operation failed and why, which the error
//! messages need.

use serde_json::Value;

/// One operation of a patch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
    Move { from: String, path: String },
    Copy { from: String, path: String },
    Test { path: String, value: Value },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Add { .. } => "add",
            Op::Remove { .. } => "remove",
            Op::Replace { .. } => "replace",
            Op::Move { .. } => "move",
            Op::Copy { .. } => "copy",
            Op::Test { .. } => "test",
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Op::Add { path, .. }
            | Op::Remove { path }
            | Op::Replace { path, .. }
            | Op::Move { path, .. }
            | Op::Copy { path, .. }
            | Op::Test { path, .. } => path,
        }
    }
}

/// Reads a list of operations; the error names the offending operation.
pub(crate) fn parse(ops: &[Value]) -> Result<Vec<Op>, String> {
    ops.iter()
        .enumerate()
        .map(|(index, op)| parse_op(op).map_err(|e| format!("JSON patch operation {index}: {e}")))
        .collect()
}

fn parse_op(op: &Value) -> Result<Op, String> {
    let Value::Object(map) = op else {
        return Err("expected a mapping with 'op' and 'path'".into());
    };
    let string = |key: &str| -> Result<String, String> {
        map.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("missing string field '{key}'"))
    };
    let value = || {
        map.get("value")
            .cloned()
            .ok_or_else(|| "missing field 'value'".to_string())
    };
    let path = string("path")?;
    Ok(match string("op")?.as_str() {
        "add" => Op::Add {
            path,
            value: value()?,
        },
        "remove" => Op::Remove { path },
        "replace" => Op::Replace {
            path,
            value: value()?,
        },
        "move" => Op::Move {
            from: string("from")?,
            path,
        },
        "copy" => Op::Copy {
            from: string("from")?,
            path,
        },
        "test" => Op::Test {
            path,
            value: value()?,
        },
        other => return Err(format!("unknown op '{other}'")),
    })
}

/// Applies the operations in order; on failure, returns the index of the
/// failing operation and the reason.
pub(crate) fn apply(document: &mut Value, ops: &[Op]) -> Result<(), (usize, String)> {
    for (index, op) in ops.iter().enumerate() {
        apply_op(document, op).map_err(|e| (index, e))?;
    }
    Ok(())
}

fn apply_op(document: &mut Value, op: &Op) -> Result<(), String> {
    match op {
        Op::Add { path, value } => add(document, &tokens(path)?, value.clone()),
        Op::Remove { path } => remove(document, &tokens(path)?).map(drop),
        Op::Replace { path, value } => {
            *get_mut(document, &tokens(path)?)? = value.clone();
            Ok(())
        }
        Op::Move { from, path } => {
            let (from, to) = (tokens(from)?, tokens(path)?);
            if to.len() > from.len() && to.starts_with(&from) {
                return Err("cannot move a value into one of its children".into());
            }
            let value = remove(document, &from)?;
            add(document, &to, value)
        }
        Op::Copy { from, path } => {
            let value = get_mut(document, &tokens(from)?)?.clone();
            add(document, &tokens(path)?, value)
        }
        Op::Test { path, value } => {
            let actual = get_mut(document, &tokens(path)?)?;
            if actual == value {
                Ok(())
            } else {
                Err(format!("value is {actual}, not {value}"))
            }
        }
    }
}

/// Splits a JSON Pointer into unescaped tokens (`~1` is `/`, `~0` is `~`).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("pointer '{pointer}' does not start with '/'"));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("invalid escape in pointer '{pointer}'")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index token: digits without leading zeros.
fn index(token: &str, len: usize) -> Result<usize, String> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    match token.parse::<usize>() {
        Ok(i) if valid && i < len => Ok(i),
        Ok(_) if valid => Err(format!("index {token} is out of bounds (length {len})")),
        _ => Err(format!("'{token}' is not an array index")),
    }
}

fn get_mut<'a>(document: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let mut current = document;
    for (depth, token) in tokens.iter().enumerate() {
        let here = || format!("/{}", tokens[..depth].join("/"));
        current = match current {
            Value::Object(map) => map
                .get_mut(token)
                .ok_or_else(|| format!("no field '{token}' at {}", here()))?,
            Value::Array(items) => {
                let i = index(token, items.len())?;
                &mut items[i]
            }
            _ => return Err(format!("{} is not a mapping or list", here())),
        };
    }
    Ok(current)
}

fn add(document: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent)) = tokens.split_last() else {
        *document = value;
        return Ok(());
    };
    match get_mut(document, parent)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = if last == "-" {
                items.len()
            } else {
                // Inserting at the end is allowed.
                index(last, items.len() + 1)?
            };
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!("parent of '{last}' is not a mapping or list")),
    }
}

fn remove(document: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let Some((last, parent)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match get_mut(document, parent)? {
        Value::Object(map) => map
            .shift_remove(last)
            .ok_or_else(|| format!("no field '{last}' to remove")),
        Value::Array(items) => {
            let i = index(last, items.len())?;
            Ok(items.remove(i))
        }
        _ => Err(format!("parent of '{last}' is not a mapping or list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, ops: Value) -> Result<Value, (usize, String)> {
        let ops = parse(ops.as_array().unwrap()).unwrap();
        let mut doc = doc;
        apply(&mut doc, &ops).map(|()| doc)
    }

    #[test]
    fn all_operations() {
        let doc = json!({"a": {"b": [1, 2]}, "x/y": 1, "t~": 2});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "remove", "path": "/a/b/1"},
            {"op": "replace", "path": "/x~1y", "value": "slash"},
            {"op": "copy", "from": "/t~0", "path": "/c"},
            {"op": "move", "from": "/a/b", "path": "/m"},
            {"op": "test", "path": "/m", "value": [0, 2, 3]},
            {"op": "add", "path": "/a/new", "value": {"k": "v"}}
        ]);
        assert_eq!(
            run(doc, ops).unwrap(),
            json!({"a": {"new": {"k": "v"}}, "x/y": "slash", "t~": 2, "c": 2, "m": [0, 2, 3]})
        );
    }

    #[test]
    fn failures_name_the_operation() {
        let doc = json!({"a": [1]});
        assert_eq!(
            run(
                doc.clone(),
                json!([{"op": "add", "path": "/a/-", "value": 2}, {"op": "replace", "path": "/b", "value": 1}])
            ),
            Err((1, "no field 'b' at /".into()))
        );
        assert_eq!(
            run(doc.clone(), json!([{"op": "remove", "path": "/a/3"}])),
            Err((0, "index 3 is out of bounds (length 1)".into()))
        );
        assert_eq!(
            run(
                doc.clone(),
                json!([{"op": "test", "path": "/a/0", "value": 2}])
            ),
            Err((0, "value is 1, not 2".into()))
        );
        assert_eq!(
            run(
                doc.clone(),
                json!([{"op": "add", "path": "/a/01", "value": 2}])
            ),
            Err((0, "'01' is not an array index".into()))
        );
        assert!(parse(&[json!({"op": "frob", "path": "/a"})]).is_err());
    }
}
