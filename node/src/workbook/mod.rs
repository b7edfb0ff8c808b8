//! The workbook file format (one SQLite file).
