//! Moving between the dashboard's tabs; the `Tab` enum itself is made by the screens' registry
//! (`screens::tabs!`), in the order the tab bar shows them and digits select them.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

pub use super::screens::Tab;

impl Tab {
    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    pub fn step(self, by: isize) -> Tab {
        let count = Tab::ALL.len() as isize;
        Tab::ALL[(self.index() as isize + by).rem_euclid(count) as usize]
    }

    /// The tab a digit key names: 1 is the first.
    pub fn numbered(key: &KeyEvent) -> Option<Tab> {
        match key.code {
            KeyCode::Char(c @ '1'..='9') => Tab::ALL.get(c as usize - '1' as usize).copied(),
            _ => None,
        }
    }
}
