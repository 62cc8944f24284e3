//! In-place `skip` edits of flow files, keeping comments and layout.
