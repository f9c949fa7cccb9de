-- Installing cryptoml: CASCADE brings pg_cron, objects work unqualified with the default search_path.
SET client_min_messages = warning;
CREATE EXTENSION cryptoml CASCADE;
RESET client_min_messages;
SHOW search_path;
SELECT ml_version() = (SELECT default_version FROM pg_available_extensions WHERE name = 'cryptoml') AS version_matches_control;
SELECT extversion FROM pg_extension WHERE extname = 'cryptoml';
-- both spellings of every seed table, unqualified
SELECT count(*) FROM rollingChartData;
SELECT count(*) FROM rollingchartdata;
SELECT count(*) FROM mlTrainingSamples;
SELECT count(*) FROM mlTrainingBatches;
SELECT count(*) FROM persistentForecasts;
SELECT count(*) FROM tradeSimulations;
SELECT count(*) FROM systemLogs;
SELECT count(*) FROM recoveryState;
-- a second CREATE EXTENSION is refused
CREATE EXTENSION cryptoml;
-- every user-facing object is documented
SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1;
SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE p.pronamespace <> 'cryptoml_internal'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1;
SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE c.relkind = 'r' AND c.relnamespace <> 'cryptoml_internal'::regnamespace AND col_description(c.oid, a.attnum) IS NULL ORDER BY 1, 2;
-- every SECURITY DEFINER function pins search_path
SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE p.prosecdef AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') ORDER BY 1;
-- every function without a pinned search_path, and why (issue 14): none runs SQL through the
-- caller's search_path. Pure computations run no SQL; the C triggers run theirs as the owner with
-- search_path pinned (owner.hpp); procedures that commit pin it in each of their transactions.
SELECT p.proname, p.prokind,
       CASE WHEN p.prorettype = 'trigger'::regtype THEN 'C trigger: SQL only as the owner, pinned'
            WHEN p.prokind = 'p' THEN 'procedure: pins each transaction'
            ELSE 'C, runs no SQL' END AS why
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c = 'search_path=pg_catalog, pg_temp') ORDER BY 1, 2;
-- functions PUBLIC may execute: read-only helpers only
SELECT p.proname FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'cryptoml'
 WHERE has_function_privilege('public', p.oid, 'EXECUTE') ORDER BY 1;
-- the library's GUCs are reserved under the cryptoml. prefix
SET cryptoml.no_such_setting = 1;
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'cryptoml.%' ORDER BY 1;
-- tables whose data pg_dump carries (extension members are skipped unless registered)
SELECT c::regclass AS dumped FROM pg_extension e, unnest(e.extconfig) AS c WHERE e.extname = 'cryptoml' ORDER BY c::regclass::text;
