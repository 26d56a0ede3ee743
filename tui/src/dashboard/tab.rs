//! The dashboard's tabs, in the order the tab bar shows them and digits select them.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use crate::strings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Fleet,
    Devices,
    Firmware,
    Rollouts,
    Audit,
    Events,
    Webhooks,
}

/// The titles of the tabs added with the events feed; the others are in `strings`.
const TAB_EVENTS: &str = "Events";
const TAB_WEBHOOKS: &str = "Webhooks";

impl Tab {
    /// Tab order; later tabs (tokens) are added here and in `title`.
    pub const ALL: [Tab; 7] = [
        Tab::Fleet,
        Tab::Devices,
        Tab::Firmware,
        Tab::Rollouts,
        Tab::Audit,
        Tab::Events,
        Tab::Webhooks,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Fleet => strings::TAB_FLEET,
            Tab::Devices => strings::TAB_DEVICES,
            Tab::Firmware => strings::TAB_FIRMWARE,
            Tab::Rollouts => strings::TAB_ROLLOUTS,
            Tab::Audit => strings::TAB_AUDIT,
            Tab::Events => TAB_EVENTS,
            Tab::Webhooks => TAB_WEBHOOKS,
        }
    }

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
