//! [`Sql`]: a statement built at run time (the stats queries of [`crate::query`]), as text with
//! `?` placeholders and the values bound to them, in order. Values are bound by the client
//! (escaped), never spliced into the text by us.

/// A value bound to a `?`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    U32(u32),
    Str(String),
}

/// SQL text with its bound values, in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Param>,
}

impl Sql {
    /// Appends text (never a value: values go through the `bind_` methods). The text holds no
    /// `?`: the client would take it for a placeholder and bind the next value there, shifting
    /// every later value (a literal that needs one is bound instead).
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        assert!(!text.contains('?'), "a `?` in SQL text is a placeholder: bind the literal instead");
        self.text.push_str(text);
        self
    }

    pub(crate) fn bind_str(&mut self, value: &str) -> &mut Self {
        self.text.push('?');
        self.params.push(Param::Str(value.to_string()));
        self
    }

    /// Binds each value, with `separator` between them (`?, ?, ?`).
    pub(crate) fn bind_list<'v>(&mut self, values: impl IntoIterator<Item = &'v String>, separator: &str) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(separator);
            }
            self.bind_str(value);
        }
        self
    }

    pub(crate) fn bind_u32(&mut self, value: u32) -> &mut Self {
        self.text.push('?');
        self.params.push(Param::U32(value));
        self
    }

    pub(crate) fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }

    /// The text with its `?` placeholders.
    pub fn text(&self) -> &str {
        &self.text
    }
}
