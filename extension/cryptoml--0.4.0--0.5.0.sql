-- cryptoml 0.4.0 -> 0.5.0 (issue 14): security and integrity.
\echo Use "ALTER EXTENSION cryptoml UPDATE" to load this file. \quit
