-- cryptoml_router 0.9.0: the cryptoml API over several cryptoml nodes, routed by PL/Proxy
-- (docs/scale-out.md, "Router" and "Moving a symbol"). SQL only: the router never loads cryptoml.
\echo Use "CREATE EXTENSION cryptoml_router CASCADE" to load this file. \quit

-- Internals live in cryptoml_router; PL/Proxy reads its cluster from the plproxy schema's three
-- functions; the user API is in @extschema@ with the node's names, signatures and result columns,
-- so PL/Proxy calls the node function of the same schema-qualified name.
CREATE SCHEMA cryptoml_router;
REVOKE ALL ON SCHEMA cryptoml_router FROM PUBLIC;
CREATE SCHEMA plproxy;
REVOKE ALL ON SCHEMA plproxy FROM PUBLIC;

-- ===========================================================================================
-- The cluster: nodes, partitions, the symbol map, PL/Proxy settings
-- ===========================================================================================
CREATE TABLE cryptoml_router.nodes (
  name     text PRIMARY KEY CONSTRAINT nodes_name_rule CHECK (name ~ '^[a-z][a-z0-9_]{0,19}$'),
  node_no  integer NOT NULL UNIQUE CONSTRAINT nodes_node_no_range CHECK (node_no BETWEEN 1 AND 20),
  conninfo text NOT NULL UNIQUE,
  added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE cryptoml_router.nodes IS 'The cryptoml nodes: name (also in replication slot names), number 1-20 (its range of bigserial ids), conninfo valid from the router and from every other node.';

CREATE TABLE cryptoml_router.partitions (
  partition integer PRIMARY KEY CONSTRAINT partitions_partition_range CHECK (partition >= 0),
  node      text REFERENCES cryptoml_router.nodes (name) ON UPDATE CASCADE ON DELETE RESTRICT
);
COMMENT ON TABLE cryptoml_router.partitions IS 'The logical partitions 0..N-1 (N a power of two, set once by ml_cluster_init) and the node serving each; several per node.';

CREATE TABLE cryptoml_router.symbol_map (
  symbol          text PRIMARY KEY CONSTRAINT symbol_map_symbol_rule CHECK (length(symbol) BETWEEN 1 AND 20),
  partition       integer NOT NULL REFERENCES cryptoml_router.partitions (partition),
  state           text NOT NULL DEFAULT 'active' CONSTRAINT symbol_map_state_rule CHECK (state IN ('active', 'moving')),
  move_from       integer REFERENCES cryptoml_router.partitions (partition),
  move_to         integer REFERENCES cryptoml_router.partitions (partition),
  move_started_at timestamptz,
  CONSTRAINT symbol_map_move_rule CHECK ((state = 'moving') = (move_to IS NOT NULL AND move_from IS NOT NULL))
);
COMMENT ON TABLE cryptoml_router.symbol_map IS 'Where each symbol lives: its partition; state moving (with move_from, move_to) while ml_move_symbol copies it, when writes through the router are refused.';

CREATE TABLE cryptoml_router.settings (
  key   text PRIMARY KEY CONSTRAINT settings_key_rule
          CHECK (key IN ('connection_lifetime', 'query_timeout', 'connect_timeout', 'disable_binary', 'router_conninfo', 'move_chunk_rows')),
  value text NOT NULL,
  CONSTRAINT settings_value_rule CHECK (key = 'router_conninfo' OR value ~ '^[0-9]{1,9}$')
);
COMMENT ON TABLE cryptoml_router.settings IS 'Router settings (defaults when absent): connection_lifetime (s, 300), query_timeout (s, 0 = none), disable_binary (0), connect_timeout (s, 5, added to each conninfo without one), router_conninfo (how ml_move_symbol reaches this database for its autonomous map updates; default: its first Unix socket), move_chunk_rows (5000).';

-- The cluster version PL/Proxy compares on every call: any change of nodes, partitions or settings
-- bumps it, and each backend reloads the partitions and settings on its next call.
CREATE TABLE cryptoml_router.cluster_state (
  one     boolean PRIMARY KEY DEFAULT true CONSTRAINT cluster_state_one CHECK (one),
  version integer NOT NULL DEFAULT 1
);
INSERT INTO cryptoml_router.cluster_state DEFAULT VALUES;

CREATE FUNCTION cryptoml_router.bump_version() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE cryptoml_router.cluster_state SET version = version + 1;
    RETURN NULL;
  END
  $$;
CREATE TRIGGER nodes_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cryptoml_router.nodes
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_router.bump_version();
CREATE TRIGGER partitions_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cryptoml_router.partitions
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_router.bump_version();
CREATE TRIGGER settings_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cryptoml_router.settings
  FOR EACH STATEMENT EXECUTE FUNCTION cryptoml_router.bump_version();

-- pg_dump keeps the cluster's definition (the version restarts at 1: every backend reloads anyway)
SELECT pg_catalog.pg_extension_config_dump('cryptoml_router.nodes', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_router.partitions', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_router.symbol_map', '');
SELECT pg_catalog.pg_extension_config_dump('cryptoml_router.settings', '');

CREATE FUNCTION cryptoml_router.setting(key text, fallback text) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce((SELECT s.value FROM cryptoml_router.settings s WHERE s.key = $1), $2) $$;

-- A node's conninfo as the router uses it: with connect_timeout unless it has its own.
CREATE FUNCTION cryptoml_router.connstr(conninfo text) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT CASE WHEN $1 ~ '(^|\s)connect_timeout\s*=' OR $1 ~ '^postgres(ql)?://' THEN $1
              ELSE $1 || ' connect_timeout=' || cryptoml_router.setting('connect_timeout', '5') END
  $$;

CREATE FUNCTION cryptoml_router.node_connstr(node text) RETURNS text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    c text;
  BEGIN
    SELECT n.conninfo INTO c FROM cryptoml_router.nodes n WHERE n.name = node;
    IF c IS NULL THEN
      RAISE EXCEPTION 'unknown node "%"', left(coalesce(node, 'NULL'), 40) USING ERRCODE = 'invalid_parameter_value',
        HINT = 'ml_cluster_nodes() lists the nodes; ml_cluster_add_node(name, conninfo) adds one.';
    END IF;
    RETURN cryptoml_router.connstr(c);
  END
  $$;

-- This router database, for ml_move_symbol's map updates that must commit on their own.
CREATE FUNCTION cryptoml_router.self_connstr() RETURNS text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    c text := cryptoml_router.setting('router_conninfo', NULL);
    sock text := btrim(split_part(current_setting('unix_socket_directories'), ',', 1));
  BEGIN
    IF c IS NULL THEN
      IF sock = '' THEN
        RAISE EXCEPTION 'the router cannot reach its own database for ml_move_symbol''s map updates'
          USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = 'rule: without a Unix socket, set router_conninfo',
                HINT = 'INSERT INTO cryptoml_router.settings VALUES (''router_conninfo'', ''host=... port=... dbname=...'')';
      END IF;
      c := format('host=%s port=%s dbname=%s', sock, current_setting('port'), current_database());
    END IF;
    RETURN c;
  END
  $$;

-- ===========================================================================================
-- PL/Proxy's cluster "cryptoml" (config API of PL/Proxy 2.x: version, partitions in partition
-- order, their count a power of two, and key/value settings)
-- ===========================================================================================
CREATE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF cluster_name IS DISTINCT FROM 'cryptoml' THEN
      RAISE EXCEPTION 'unknown PL/Proxy cluster "%"', left(coalesce(cluster_name, 'NULL'), 40)
        USING ERRCODE = 'undefined_object', DETAIL = 'rule: this router serves the cluster "cryptoml" only';
    END IF;
    RETURN (SELECT s.version FROM cryptoml_router.cluster_state s);
  END
  $$;

-- Unassigned partitions (no symbol can be on one: partition_of refuses) borrow the conninfo of
-- the node of the lowest assigned partition, so RUN ON ALL reaches exactly the nodes that serve.
CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text) RETURNS SETOF text
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n integer := (SELECT count(*) FROM cryptoml_router.partitions);
    fallback text;
  BEGIN
    IF cluster_name IS DISTINCT FROM 'cryptoml' THEN
      RAISE EXCEPTION 'unknown PL/Proxy cluster "%"', left(coalesce(cluster_name, 'NULL'), 40)
        USING ERRCODE = 'undefined_object', DETAIL = 'rule: this router serves the cluster "cryptoml" only';
    END IF;
    IF n = 0 THEN
      RAISE EXCEPTION 'the cryptoml cluster has no partitions' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'SELECT ml_cluster_init(16); then ml_cluster_add_node and ml_cluster_assign.';
    END IF;
    SELECT x.conninfo INTO fallback FROM cryptoml_router.partitions p JOIN cryptoml_router.nodes x ON x.name = p.node
     ORDER BY p.partition LIMIT 1;
    IF fallback IS NULL THEN
      RAISE EXCEPTION 'no partition of the cryptoml cluster has a node' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'SELECT ml_cluster_assign(partition, node) for each partition.';
    END IF;
    RETURN QUERY SELECT cryptoml_router.connstr(coalesce(x.conninfo, fallback))
                   FROM cryptoml_router.partitions p LEFT JOIN cryptoml_router.nodes x ON x.name = p.node
                  ORDER BY p.partition;
  END
  $$;

CREATE FUNCTION plproxy.get_cluster_config(IN cluster_name text, OUT key text, OUT val text) RETURNS SETOF record
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF cluster_name IS DISTINCT FROM 'cryptoml' THEN
      RAISE EXCEPTION 'unknown PL/Proxy cluster "%"', left(coalesce(cluster_name, 'NULL'), 40)
        USING ERRCODE = 'undefined_object', DETAIL = 'rule: this router serves the cluster "cryptoml" only';
    END IF;
    -- connection_lifetime: a connection is renewed at this age even when it looks healthy;
    -- a dead one (node restarted) is dropped and reconnected on the next call in any case
    RETURN QUERY SELECT d.k, cryptoml_router.setting(d.k, d.v)
                   FROM (VALUES ('connection_lifetime', '300'), ('query_timeout', '0'), ('disable_binary', '0')) d(k, v);
  END
  $$;

-- ===========================================================================================
-- Routing: symbol -> partition
-- ===========================================================================================
CREATE FUNCTION cryptoml_router.unknown_symbol(symbol text) RETURNS integer
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    IF symbol IS NULL THEN
      RAISE EXCEPTION 'symbol must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RAISE EXCEPTION 'unknown symbol "%" on the router', left(symbol, 40) USING ERRCODE = 'invalid_parameter_value',
      DETAIL = 'rule: the router serves the symbols of cryptoml_router.symbol_map',
      HINT = 'Add it with ml_config_set(''symbols'', ...) on the router (placed by hash), or place it with ml_cluster_add_symbol(symbol, partition).';
  END
  $$;

-- Why a write to a symbol is refused: it is moving, or its partition has no node.
CREATE FUNCTION cryptoml_router.refuse_write(symbol text) RETURNS integer
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    m record;
  BEGIN
    SELECT s.partition, s.state, s.move_from, s.move_to, s.move_started_at, p.node INTO m
      FROM cryptoml_router.symbol_map s JOIN cryptoml_router.partitions p ON p.partition = s.partition
     WHERE s.symbol = refuse_write.symbol;
    IF m.state = 'moving' THEN
      RAISE EXCEPTION 'symbol % is being moved from partition % to partition % (since %): writes are refused until the move ends',
                      symbol, m.move_from, m.move_to, m.move_started_at
        USING ERRCODE = 'object_in_use',
              HINT = format('Retry after the move; if it was interrupted, SELECT ml_move_symbol(%L, %s) resumes it.', symbol, m.move_to);
    END IF;
    RAISE EXCEPTION 'partition % of symbol % has no node', m.partition, symbol USING ERRCODE = 'object_not_in_prerequisite_state',
      HINT = format('SELECT ml_cluster_assign(%s, node)', m.partition);
  END
  $$;

-- The partition of a symbol for a call that writes (ml_forecast stores its forecast): refused
-- while the symbol moves. PL/Proxy runs "select * from cryptoml_router.partition_of($1)" on every
-- call: a set-returning SQL function without SET clause, so the planner inlines it (one index
-- probe); the errors are raised by the plpgsql helpers only on their branch.
CREATE FUNCTION cryptoml_router.partition_of(symbol text) RETURNS SETOF integer
  LANGUAGE sql STABLE ROWS 1
  AS $$
  SELECT COALESCE(
    (SELECT CASE WHEN s.state OPERATOR(pg_catalog.=) 'active' AND p.node IS NOT NULL THEN s.partition
                 ELSE cryptoml_router.refuse_write($1) END
       FROM cryptoml_router.symbol_map s JOIN cryptoml_router.partitions p ON p.partition OPERATOR(pg_catalog.=) s.partition
      WHERE s.symbol OPERATOR(pg_catalog.=) $1),
    cryptoml_router.unknown_symbol($1))
  $$;

-- The partition of a symbol for a read: served by the current owner also during a move.
CREATE FUNCTION cryptoml_router.read_partition_of(symbol text) RETURNS SETOF integer
  LANGUAGE sql STABLE ROWS 1
  AS $$
  SELECT COALESCE(
    (SELECT s.partition FROM cryptoml_router.symbol_map s WHERE s.symbol OPERATOR(pg_catalog.=) $1),
    cryptoml_router.unknown_symbol($1))
  $$;

CREATE FUNCTION cryptoml_router.node_of_partition(p integer) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT x.node FROM cryptoml_router.partitions x WHERE x.partition = $1 $$;

-- The nodes that serve (have a partition), in node_no order: what RUN ON ALL reaches.
CREATE FUNCTION cryptoml_router.serving_nodes() RETURNS SETOF text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT n.name FROM cryptoml_router.nodes n
   WHERE EXISTS (SELECT 1 FROM cryptoml_router.partitions p WHERE p.node = n.name) ORDER BY n.node_no
  $$;

-- Is an error the loss of a node (connection refused, closed, timed out, server shutting down)
-- rather than an error of the call itself?
CREATE FUNCTION cryptoml_router.is_node_failure(sqlstate text, message text) RETURNS boolean
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT $1 LIKE '08%' OR $1 IN ('57P01', '57P02', '57P03')
      OR ($1 = 'XX000' AND ($2 ~ '^PL/Proxy function \S+: \[[^]]*\] (PQconnectPoll|PQconnectStart|PQsendQuery|PQsendQueryParams|PQflush|PQconsumeInput)'
                            OR $2 ~ '^PL/Proxy function \S+: (connect timeout|query timeout)'
                            OR $2 ~ 'REMOTE [^:]*: (server closed the connection|could not receive data|no connection to the server|terminating connection)'))
  $$;

-- A connection PL/Proxy kept to a node that has restarted since: the first call on it fails
-- before the node runs anything (server gone, "terminating connection"), and PL/Proxy drops it;
-- idempotent calls (ml_forecast, ml_insert_bars, ml_ingest_klines) are then tried once more.
CREATE FUNCTION cryptoml_router.is_stale_connection(sqlstate text, message text) RETURNS boolean
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT $1 IN ('57P01', '57P02')
      OR ($1 = 'XX000' AND $2 ~ 'REMOTE [^:]*: (server closed the connection|could not receive data|no connection to the server|terminating connection)')
  $$;

-- Called in an exception handler of a routed call: the loss of the symbol's node becomes a clear
-- error naming the node and the symbol (SQLSTATE 08006); any other error returns (the caller re-raises it).
CREATE FUNCTION cryptoml_router.node_failure(symbol text, sqlstate text, message text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    p integer;
    node text;
  BEGIN
    IF NOT cryptoml_router.is_node_failure(sqlstate, message) THEN
      RETURN;
    END IF;
    SELECT s.partition, x.node INTO p, node FROM cryptoml_router.symbol_map s
      JOIN cryptoml_router.partitions x ON x.partition = s.partition WHERE s.symbol = node_failure.symbol;
    RAISE EXCEPTION 'node % is unreachable: symbol % (partition %) cannot be served', coalesce(node, '?'), symbol, p
      USING ERRCODE = 'connection_failure', DETAIL = left(message, 900),
            HINT = 'The other nodes'' symbols keep working; calls succeed again once the node is back (PL/Proxy reconnects). ml_cluster_health() shows each node.';
  END
  $$;

-- A node's error as the node raised it, without PL/Proxy's "fn(n): [db] REMOTE ERROR: " prefix.
CREATE FUNCTION cryptoml_router.reraise(sqlstate text, message text, detail text, hint text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    m text := regexp_replace(message, '^\S+\(\d+\): \[[^]]*\] REMOTE [A-Z]+: ', '');
    d text := nullif(regexp_replace(coalesce(detail, ''), '^Remote detail: ', ''), '');
    h text := nullif(regexp_replace(coalesce(hint, ''), '^Remote hint: ', ''), '');
  BEGIN
    IF d IS NOT NULL AND h IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = m, DETAIL = d, HINT = h;
    ELSIF d IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = m, DETAIL = d;
    ELSIF h IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = m, HINT = h;
    ELSE
      RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = m;
    END IF;
  END
  $$;

-- The handler of a routed call: a lost node becomes node_failure's error; any other error is
-- raised again as the node raised it (its SQLSTATE, message, detail and hint).
CREATE FUNCTION cryptoml_router.routed_error(symbol text, sqlstate text, message text, detail text, hint text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    PERFORM cryptoml_router.node_failure(symbol, sqlstate, message);
    PERFORM cryptoml_router.reraise(sqlstate, message, detail, hint);
  END
  $$;

-- ===========================================================================================
-- Result types of the node API (same names and columns as the node's tables)
-- ===========================================================================================
CREATE TYPE mlTrainingBatches AS (
  id integer,
  batch_id character varying(50),
  symbol character varying(20),
  model_type character varying(30),
  training_samples integer,
  validation_samples integer,
  rmse numeric(10,6),
  mae numeric(10,6),
  accuracy numeric(5,4),
  model_path character varying(255),
  is_production boolean,
  created_at timestamp without time zone,
  forecast_horizon integer,
  baseline_rmse numeric(10,6),
  hyperparameters jsonb,
  feature_set_version integer,
  duration_ms bigint,
  shrinkage double precision,
  skill_statistic double precision,
  skill_p_value double precision,
  calibration_pairs integer
);
COMMENT ON TYPE mlTrainingBatches IS 'A row of the nodes'' mlTrainingBatches, as ml_train returns it.';

CREATE TYPE tradeSimulations AS (
  id integer,
  symbol character varying(20),
  signal_type character varying(10),
  entry_price numeric(20,8),
  tp_price numeric(20,8),
  sl_price numeric(20,8),
  current_price numeric(20,8),
  confidence integer,
  profit_likelihood integer,
  real_time_pnl numeric(10,4),
  highest_profit numeric(10,4),
  lowest_loss numeric(10,4),
  profitable_minutes integer,
  total_minutes integer,
  is_active boolean,
  created_at timestamp without time zone,
  completed_at timestamp without time zone,
  forecast_horizon integer,
  entry_bar timestamp without time zone,
  model_version character varying(50),
  predicted_change numeric(15,8),
  fee_pct numeric(8,4),
  slippage_pct numeric(8,4),
  exit_reason character varying(10),
  exit_price numeric(20,8)
);
COMMENT ON TYPE tradeSimulations IS 'A row of the nodes'' tradeSimulations, as ml_simulate returns it.';

-- ===========================================================================================
-- Calls to one named node (PL/Proxy CONNECT: also a node that has no partition yet)
-- ===========================================================================================
CREATE FUNCTION cryptoml_router.on_join(p_conninfo text, p_name text, p_node_no integer) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.connstr(p_conninfo);
  SELECT cryptoml_internal.node_join(p_name, p_node_no);
  $$;
CREATE FUNCTION cryptoml_router.on_set_symbol(p_node text, p_symbol text, p_role text) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_set_symbol(p_symbol, p_role);
  $$;
CREATE FUNCTION cryptoml_router.on_refresh_publication(p_node text) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_refresh_publication();
  $$;
CREATE FUNCTION cryptoml_router.on_create_slot(p_node text, p_slot text) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_create_slot(p_slot);
  $$;
CREATE FUNCTION cryptoml_router.on_subscribe(p_node text, p_peer text, p_peer_conninfo text, p_slot text, p_copy_data boolean) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_subscribe(p_peer, p_peer_conninfo, p_slot, p_copy_data);
  $$;
CREATE FUNCTION cryptoml_router.on_unsubscribe(p_node text, p_peer text, p_lsn pg_lsn, p_timeout integer) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_unsubscribe(p_peer, p_lsn, p_timeout);
  $$;
CREATE FUNCTION cryptoml_router.on_drop_slot(p_node text, p_slot text) RETURNS boolean
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_drop_slot(p_slot);
  $$;
CREATE FUNCTION cryptoml_router.on_wal_lsn(p_node text) RETURNS pg_lsn
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_wal_lsn();
  $$;
CREATE FUNCTION cryptoml_router.on_status(p_node text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_status();
  $$;
CREATE FUNCTION cryptoml_router.on_version(p_node text) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_version();
  $$;
CREATE FUNCTION cryptoml_router.on_config(p_node text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_config();
  $$;
CREATE FUNCTION cryptoml_router.on_config_get(p_node text, p_path text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_config_get(p_path);
  $$;
CREATE FUNCTION cryptoml_router.on_config_keys(p_node text)
  RETURNS TABLE (path text, value jsonb, default_value jsonb, is_default boolean, rule text)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM @extschema@.ml_config_keys();
  $$;
CREATE FUNCTION cryptoml_router.on_config_check(p_node text, p_path text, p_value jsonb) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.config_check(p_path, p_value);
  $$;
CREATE FUNCTION cryptoml_router.on_config_set(p_node text, p_path text, p_value jsonb) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_config_set(p_path, p_value);
  $$;
CREATE FUNCTION cryptoml_router.on_config_reset(p_node text, p_path text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_config_reset(p_path);
  $$;
CREATE FUNCTION cryptoml_router.on_config_reset_all(p_node text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT @extschema@.ml_config_reset_all();
  $$;
CREATE FUNCTION cryptoml_router.on_health(p_node text)
  RETURNS TABLE (scope text, metric text, value float8, unit text, threshold float8, ok boolean, detail text)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM @extschema@.ml_health();
  $$;
CREATE FUNCTION cryptoml_router.on_workers(p_node text)
  RETURNS TABLE (worker text, database text, state text, pid integer, started_at timestamptz, last_run timestamptz,
                 next_run timestamptz, cycles bigint, errors bigint, last_error text)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM @extschema@.ml_workers();
  $$;
CREATE FUNCTION cryptoml_router.on_forecast_quality(p_node text, p_symbol text, p_horizon integer, p_since timestamp)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM @extschema@.ml_forecast_quality(p_symbol, p_horizon, p_since);
  $$;
CREATE FUNCTION cryptoml_router.on_performance_inputs(p_node text, p_symbol text, p_since timestamp)
  RETURNS TABLE (entry_bar timestamp, completed_at timestamp, pnl float8, fee float8, slip float8, horizon integer, id integer)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM cryptoml_internal.performance_inputs(p_symbol, p_since);
  $$;
CREATE FUNCTION cryptoml_router.on_calibration_inputs(p_node text, p_symbol text, p_horizon integer, p_since timestamp)
  RETURNS TABLE (conf float8, hit boolean)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM cryptoml_internal.calibration_inputs(p_symbol, p_horizon, p_since);
  $$;
CREATE FUNCTION cryptoml_router.on_performance_of(p_node text, p_opened timestamp[], p_closed timestamp[], p_pnl float8[],
                                                  p_start timestamp, p_end timestamp)
  RETURNS TABLE (trades integer, win_rate float8, avg_pnl float8, median_pnl float8, profit_factor float8, sharpe float8,
                 sortino float8, max_drawdown_pct float8, exposure float8, total_return_pct float8, trades_per_year float8)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM cryptoml_internal.performance_of(p_opened, p_closed, p_pnl, p_start, p_end);
  $$;
CREATE FUNCTION cryptoml_router.on_reliability_report(p_node text, p_conf float8[], p_hit boolean[])
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8,
                 hit_high95 float8, ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM cryptoml_internal.reliability_report(p_conf, p_hit);
  $$;
-- the move (docs/scale-out.md, "Moving a symbol")
CREATE FUNCTION cryptoml_router.on_parts(p_node text) RETURNS SETOF text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT * FROM cryptoml_internal.node_parts();
  $$;
CREATE FUNCTION cryptoml_router.on_export(p_node text, p_symbol text, p_part text, p_after text, p_max_rows integer) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_export(p_symbol, p_part, p_after, p_max_rows);
  $$;
CREATE FUNCTION cryptoml_router.on_import(p_node text, p_symbol text, p_part text, p_rows jsonb) RETURNS bigint
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_import(p_symbol, p_part, p_rows);
  $$;
CREATE FUNCTION cryptoml_router.on_counts(p_node text, p_symbol text) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_counts(p_symbol);
  $$;
CREATE FUNCTION cryptoml_router.on_purge(p_node text, p_symbol text, p_keep_bars boolean) RETURNS jsonb
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.node_connstr(p_node);
  SELECT cryptoml_internal.node_purge(p_symbol, p_keep_bars);
  $$;

-- ml_move_symbol's map updates, committed at once by a connection of the router to itself: a
-- failed move stays visible as 'moving' (writes refused) until a rerun completes it.
CREATE FUNCTION cryptoml_router.map_set(p_symbol text, p_state text, p_partition integer, p_from integer, p_to integer) RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    UPDATE cryptoml_router.symbol_map s
       SET partition = p_partition, state = p_state, move_from = p_from, move_to = p_to,
           move_started_at = CASE WHEN p_state = 'moving' THEN coalesce(s.move_started_at, now()) END
     WHERE s.symbol = p_symbol;
    IF NOT FOUND THEN
      PERFORM cryptoml_router.unknown_symbol(p_symbol);
    END IF;
    RETURN p_state;
  END
  $$;
CREATE FUNCTION cryptoml_router.self_map_set(p_symbol text, p_state text, p_partition integer, p_from integer, p_to integer) RETURNS text
  LANGUAGE plproxy AS $$
  CONNECT cryptoml_router.self_connstr();
  SELECT cryptoml_router.map_set(p_symbol, p_state, p_partition, p_from, p_to);
  $$;

-- ===========================================================================================
-- Routed calls (PL/Proxy CLUSTER 'cryptoml')
-- ===========================================================================================
CREATE FUNCTION cryptoml_router.px_forecast(symbol text, horizon integer,
                            OUT symbol text, OUT horizon integer, OUT forecast_at timestamp, OUT predicted_change float8,
                            OUT predicted_price float8, OUT confidence float8, OUT signal text, OUT model_version text,
                            OUT expires_at timestamp, OUT cached boolean, OUT stale boolean,
                            OUT raw_change float8, OUT lower float8, OUT upper float8)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of($1);
  TARGET @extschema@.ml_forecast;
  $$;
CREATE FUNCTION cryptoml_router.px_ingest_klines(exchange text, symbol text, payload jsonb) RETURNS integer
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of(symbol);
  TARGET @extschema@.ml_ingest_klines;
  $$;
CREATE FUNCTION cryptoml_router.px_insert_bars(symbol text, bars jsonb) RETURNS integer
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of(symbol);
  TARGET @extschema@.ml_insert_bars;
  $$;
CREATE FUNCTION cryptoml_router.px_train(symbol text, horizon integer, model_type text, options jsonb)
  RETURNS @extschema@.mltrainingbatches
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of(symbol);
  TARGET @extschema@.ml_train;
  $$;
CREATE FUNCTION cryptoml_router.px_backtest(symbol text, horizon integer, model_type text, "from" timestamp, "to" timestamp, options jsonb)
  RETURNS TABLE (run_id text, strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8,
                 profit_factor float8, sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8,
                 total_return_pct float8, trades_per_year float8, predictions bigint, rmse float8, baseline_rmse float8,
                 directional_accuracy float8)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of(symbol);
  TARGET @extschema@.ml_backtest;
  $$;
CREATE FUNCTION cryptoml_router.px_simulate(symbol text, horizon integer, tp_sigma float8, sl_sigma float8, fee_pct float8, slippage_pct float8)
  RETURNS @extschema@.tradesimulations
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.partition_of(symbol);
  TARGET @extschema@.ml_simulate;
  $$;
CREATE FUNCTION cryptoml_router.px_performance(symbol text, since timestamp)
  RETURNS TABLE (strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8, profit_factor float8,
                 sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8, total_return_pct float8,
                 trades_per_year float8, period_start timestamp, period_end timestamp)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.read_partition_of(symbol);
  TARGET @extschema@.ml_performance;
  $$;
CREATE FUNCTION cryptoml_router.px_calibration(symbol text, horizon integer, since timestamp)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.read_partition_of(symbol);
  TARGET @extschema@.ml_calibration;
  $$;
CREATE FUNCTION cryptoml_router.px_forecast_quality(p_symbol text, p_horizon integer, p_since timestamp)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON cryptoml_router.read_partition_of(p_symbol);
  SELECT * FROM @extschema@.ml_forecast_quality(p_symbol, p_horizon, p_since);
  $$;
-- fan-outs: once per node that serves (partitions sharing a conninfo share one connection)
CREATE FUNCTION cryptoml_router.px_all_health()
  RETURNS TABLE (scope text, metric text, value float8, unit text, threshold float8, ok boolean, detail text)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON ALL;
  SELECT * FROM @extschema@.ml_health();
  $$;
CREATE FUNCTION cryptoml_router.px_all_workers()
  RETURNS TABLE (worker text, database text, state text, pid integer, started_at timestamptz, last_run timestamptz,
                 next_run timestamptz, cycles bigint, errors bigint, last_error text)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON ALL;
  SELECT * FROM @extschema@.ml_workers();
  $$;
CREATE FUNCTION cryptoml_router.px_all_forecast_quality(p_horizon integer, p_since timestamp)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE plproxy AS $$
  CLUSTER 'cryptoml';
  RUN ON ALL;
  SELECT * FROM @extschema@.ml_forecast_quality(NULL::text, p_horizon, p_since);
  $$;

-- ===========================================================================================
-- Administration
-- ===========================================================================================
CREATE FUNCTION ml_cluster_init(partitions integer DEFAULT 16) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    have integer := (SELECT count(*) FROM cryptoml_router.partitions);
  BEGIN
    IF partitions IS NULL OR partitions < 1 OR partitions > 1024 OR (partitions & (partitions - 1)) <> 0 THEN
      RAISE EXCEPTION 'invalid number of partitions %', coalesce(partitions::text, 'NULL') USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: a power of two from 1 to 1024 (PL/Proxy maps a hash by its low bits), several per node';
    END IF;
    IF have = partitions THEN
      RETURN have;   -- set already: idempotent
    ELSIF have > 0 THEN
      RAISE EXCEPTION 'the cluster already has % partitions', have USING ERRCODE = 'object_in_use',
        DETAIL = 'rule: the number of partitions is set once; symbols move between partitions, partitions between nodes';
    END IF;
    LOCK TABLE cryptoml_router.partitions IN EXCLUSIVE MODE;
    INSERT INTO cryptoml_router.partitions (partition) SELECT g FROM generate_series(0, partitions - 1) g;
    RETURN partitions;
  END
  $$;
COMMENT ON FUNCTION ml_cluster_init(integer) IS 'Creates the logical partitions 0..N-1 (N a power of two, default 16), once; idempotent with the same N.';

CREATE FUNCTION ml_cluster_add_node(name text, conninfo text) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cur record;
    existed boolean;
    nno integer;
    joined text;
  BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,19}$' THEN
      RAISE EXCEPTION 'invalid node name "%"', left(coalesce(name, 'NULL'), 40) USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: a lower-case letter, then up to 19 lower-case letters, digits or _ (it is part of replication slot names)';
    END IF;
    IF conninfo IS NULL OR btrim(conninfo) = '' THEN
      RAISE EXCEPTION 'the conninfo of node % is empty', name USING ERRCODE = 'invalid_parameter_value',
        DETAIL = 'rule: a libpq connection string valid from the router and from every other node';
    END IF;
    LOCK TABLE cryptoml_router.nodes IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO cur FROM cryptoml_router.nodes n WHERE n.name = ml_cluster_add_node.name;
    existed := FOUND;
    IF existed THEN
      nno := cur.node_no;
    ELSE
      SELECT min(g) INTO nno FROM generate_series(1, 20) g WHERE g NOT IN (SELECT n.node_no FROM cryptoml_router.nodes n);
      IF nno IS NULL THEN
        RAISE EXCEPTION 'the cluster has 20 nodes already' USING ERRCODE = 'program_limit_exceeded',
          DETAIL = 'rule: node numbers 1-20 (each node has its own range of bigserial ids)';
      END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM cryptoml_router.nodes n WHERE n.conninfo = ml_cluster_add_node.conninfo AND n.name <> ml_cluster_add_node.name) THEN
      RAISE EXCEPTION 'conninfo "%" is node % already', left(conninfo, 200),
        (SELECT n.name FROM cryptoml_router.nodes n WHERE n.conninfo = ml_cluster_add_node.conninfo) USING ERRCODE = 'unique_violation';
    END IF;
    BEGIN
      joined := cryptoml_router.on_join(conninfo, name, nno);
    EXCEPTION WHEN OTHERS THEN
      IF cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN
        RAISE EXCEPTION 'node % cannot be reached with conninfo "%"', name, left(conninfo, 200) USING ERRCODE = 'connection_failure',
          DETAIL = left(SQLERRM, 900), HINT = 'The conninfo must work from the router and from every other node.';
      END IF;
      RAISE;
    END;
    IF NOT existed THEN
      INSERT INTO cryptoml_router.nodes (name, node_no, conninfo) VALUES (name, nno, conninfo);
    ELSIF cur.conninfo <> conninfo THEN
      UPDATE cryptoml_router.nodes n SET conninfo = ml_cluster_add_node.conninfo WHERE n.name = ml_cluster_add_node.name;
    END IF;
    RETURN format('node %s (number %s) joined', joined, nno);
  END
  $$;
COMMENT ON FUNCTION ml_cluster_add_node(text, text) IS 'Adds a cryptoml database as node <name> (its number is the lowest free one of 1-20) and runs cryptoml_internal.node_join on it; with an existing name, rejoins it and updates its conninfo. It serves once a partition is assigned to it.';

CREATE FUNCTION ml_cluster_assign(partition integer, node text) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    cur text;
    syms text;
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM cryptoml_router.nodes n WHERE n.name = ml_cluster_assign.node) THEN
      PERFORM cryptoml_router.node_connstr(node);   -- the unknown-node error
    END IF;
    LOCK TABLE cryptoml_router.symbol_map IN SHARE ROW EXCLUSIVE MODE;
    SELECT p.node INTO cur FROM cryptoml_router.partitions p WHERE p.partition = ml_cluster_assign.partition FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no partition %', coalesce(partition::text, 'NULL') USING ERRCODE = 'invalid_parameter_value',
        DETAIL = format('rule: 0 <= partition < %s', (SELECT count(*) FROM cryptoml_router.partitions)),
        HINT = 'ml_cluster_init(N) creates the partitions.';
    END IF;
    IF cur IS NOT DISTINCT FROM node THEN
      RETURN format('partition %s is on node %s', partition, node);
    END IF;
    SELECT string_agg(s.symbol, ', ' ORDER BY s.symbol) INTO syms FROM cryptoml_router.symbol_map s
     WHERE s.partition = ml_cluster_assign.partition OR s.move_to = ml_cluster_assign.partition OR s.move_from = ml_cluster_assign.partition;
    IF syms IS NOT NULL THEN
      RAISE EXCEPTION 'partition % holds symbols (%): it cannot change node', partition, syms USING ERRCODE = 'object_in_use',
        DETAIL = 'rule: a partition changes node only while no symbol lives on it (the rows would stay behind)',
        HINT = 'Move each symbol with ml_move_symbol(symbol, partition) to a partition of the other node.';
    END IF;
    UPDATE cryptoml_router.partitions p SET node = ml_cluster_assign.node WHERE p.partition = ml_cluster_assign.partition;
    RETURN format('partition %s is on node %s', partition, node);
  END
  $$;
COMMENT ON FUNCTION ml_cluster_assign(integer, text) IS 'Puts a partition on a node, only while no symbol lives on it (otherwise ml_move_symbol moves the symbols).';

CREATE FUNCTION ml_cluster_nodes()
  RETURNS TABLE (name text, node_no integer, conninfo text, partitions integer[], symbols text[])
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT n.name, n.node_no, n.conninfo,
         ARRAY(SELECT p.partition FROM cryptoml_router.partitions p WHERE p.node = n.name ORDER BY 1),
         ARRAY(SELECT s.symbol FROM cryptoml_router.symbol_map s JOIN cryptoml_router.partitions p ON p.partition = s.partition
                WHERE p.node = n.name ORDER BY 1)
    FROM cryptoml_router.nodes n ORDER BY n.node_no
  $$;
COMMENT ON FUNCTION ml_cluster_nodes() IS 'The nodes: number, conninfo, partitions and the symbols they hold.';

CREATE FUNCTION ml_cluster_map()
  RETURNS TABLE (symbol text, partition integer, node text, state text, move_to integer, move_to_node text, move_started_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT s.symbol, s.partition, p.node, s.state, s.move_to, q.node, s.move_started_at
    FROM cryptoml_router.symbol_map s JOIN cryptoml_router.partitions p ON p.partition = s.partition
    LEFT JOIN cryptoml_router.partitions q ON q.partition = s.move_to
   ORDER BY s.symbol
  $$;
COMMENT ON FUNCTION ml_cluster_map() IS 'Each symbol''s partition and node, and the move in progress if any.';

-- One round trip to a node over its CONNECT connection, retried once when that connection is to
-- the node's previous incarnation (restarted since): the calls that follow find a fresh one.
CREATE FUNCTION cryptoml_router.ping(node text) RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  BEGIN
    RETURN cryptoml_router.on_version(node);
  EXCEPTION WHEN OTHERS THEN
    IF NOT cryptoml_router.is_stale_connection(SQLSTATE, SQLERRM) THEN RAISE; END IF;
    RETURN cryptoml_router.on_version(node);
  END
  $$;

-- The symbols and leaders of the configuration, as the nodes hold it (the first node that answers).
CREATE FUNCTION cryptoml_router.config_of_nodes(path text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n text;
    errs text := '';
  BEGIN
    FOR n IN SELECT x.name FROM cryptoml_router.nodes x ORDER BY x.node_no LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n);
        RETURN cryptoml_router.on_config_get(n, path);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        errs := errs || format('%s: %s; ', n, left(SQLERRM, 200));
      END;
    END LOOP;
    RAISE EXCEPTION 'no node answered for %', path USING ERRCODE = 'connection_failure',
      DETAIL = CASE WHEN errs = '' THEN 'the cluster has no nodes' ELSE errs END;
  END
  $$;

-- Places the configured symbols that are not in the map yet (hashtext & (N-1)), and makes each
-- node's roles follow the map: owner 'owned'; the leaders (features.crossMarketSymbols) 'replica'
-- on every other node; a replica of a symbol that is no longer a leader 'none'. Then refreshes
-- every node's publication. Idempotent.
CREATE FUNCTION cryptoml_router.sync_symbols() RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    syms text[] := ARRAY(SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('symbols')));
    leaders text[] := ARRAY(SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')));
    nparts integer := (SELECT count(*) FROM cryptoml_router.partitions);
    s text;
    p integer;
    m record;
    n record;
    st jsonb;
    placed text[] := '{}';
    changes integer := 0;
  BEGIN
    IF nparts = 0 THEN
      RAISE EXCEPTION 'the cryptoml cluster has no partitions' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'SELECT ml_cluster_init(16) first.';
    END IF;
    LOCK TABLE cryptoml_router.symbol_map IN SHARE ROW EXCLUSIVE MODE;
    FOREACH s IN ARRAY syms LOOP
      IF NOT EXISTS (SELECT 1 FROM cryptoml_router.symbol_map x WHERE x.symbol = s) THEN
        p := hashtext(s) & (nparts - 1);
        INSERT INTO cryptoml_router.symbol_map (symbol, partition) VALUES (s, p);
        placed := placed || s;
      END IF;
    END LOOP;
    FOR m IN SELECT x.symbol, x.state, q.node FROM cryptoml_router.symbol_map x JOIN cryptoml_router.partitions q ON q.partition = x.partition
              WHERE x.symbol = ANY (syms) ORDER BY x.symbol LOOP
      IF m.node IS NULL THEN
        RAISE EXCEPTION 'symbol % is on partition %, which has no node', m.symbol,
          (SELECT x.partition FROM cryptoml_router.symbol_map x WHERE x.symbol = m.symbol)
          USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Assign every partition with ml_cluster_assign(partition, node).';
      END IF;
      CONTINUE WHEN m.state = 'moving';   -- ml_move_symbol sets the roles of a moving symbol
      IF cryptoml_router.on_set_symbol(m.node, m.symbol, 'owned') <> 'owned' THEN changes := changes + 1; END IF;
      IF m.symbol = ANY (leaders) THEN
        FOR n IN SELECT x.name FROM cryptoml_router.nodes x WHERE x.name <> m.node ORDER BY x.node_no LOOP
          IF cryptoml_router.on_set_symbol(n.name, m.symbol, 'replica') <> 'replica' THEN changes := changes + 1; END IF;
        END LOOP;
      END IF;
    END LOOP;
    FOR n IN SELECT x.name FROM cryptoml_router.nodes x ORDER BY x.node_no LOOP
      st := cryptoml_router.on_status(n.name);
      FOR s IN SELECT jsonb_array_elements_text(st -> 'replica') LOOP
        IF NOT (s = ANY (leaders)) THEN
          PERFORM cryptoml_router.on_set_symbol(n.name, s, 'none');
          changes := changes + 1;
        END IF;
      END LOOP;
      PERFORM cryptoml_router.on_refresh_publication(n.name);
    END LOOP;
    RETURN jsonb_build_object('placed', to_jsonb(placed), 'role_changes', changes, 'leaders', to_jsonb(leaders));
  END
  $$;

CREATE FUNCTION ml_cluster_add_symbol(symbol text, partition integer DEFAULT NULL) RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    nparts integer := (SELECT count(*) FROM cryptoml_router.partitions);
    p integer := partition;
    cur integer;
    node text;
    leaders text[];
    n text;
  BEGIN
    -- (the symbol's rule is checked by the node: node_set_symbol below, before this commits)
    IF symbol IS NULL THEN
      RAISE EXCEPTION 'symbol must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF nparts = 0 THEN
      RAISE EXCEPTION 'the cryptoml cluster has no partitions' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'SELECT ml_cluster_init(16) first.';
    END IF;
    p := coalesce(p, hashtext(symbol) & (nparts - 1));
    IF p < 0 OR p >= nparts THEN
      RAISE EXCEPTION 'no partition %', p USING ERRCODE = 'invalid_parameter_value', DETAIL = format('rule: 0 <= partition < %s', nparts);
    END IF;
    node := cryptoml_router.node_of_partition(p);
    IF node IS NULL THEN
      RAISE EXCEPTION 'partition % has no node', p USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = format('SELECT ml_cluster_assign(%s, node) first.', p);
    END IF;
    LOCK TABLE cryptoml_router.symbol_map IN SHARE ROW EXCLUSIVE MODE;
    SELECT s.partition INTO cur FROM cryptoml_router.symbol_map s WHERE s.symbol = ml_cluster_add_symbol.symbol;
    IF cur IS NOT NULL AND cur <> p THEN
      RAISE EXCEPTION 'symbol % is on partition % already', symbol, cur USING ERRCODE = 'object_in_use',
        HINT = format('SELECT ml_move_symbol(%L, %s) moves it with its rows.', symbol, p);
    ELSIF cur IS NULL THEN
      INSERT INTO cryptoml_router.symbol_map (symbol, partition) VALUES (symbol, p);
    END IF;
    PERFORM cryptoml_router.on_set_symbol(node, symbol, 'owned');
    leaders := ARRAY(SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')));
    IF symbol = ANY (leaders) THEN
      FOR n IN SELECT x.name FROM cryptoml_router.nodes x WHERE x.name <> node ORDER BY x.node_no LOOP
        PERFORM cryptoml_router.on_set_symbol(n, symbol, 'replica');
      END LOOP;
    END IF;
    RETURN format('symbol %s is on partition %s (node %s)', symbol, p, node);
  END
  $$;
COMMENT ON FUNCTION ml_cluster_add_symbol(text, integer) IS 'Places a symbol on a partition (default hashtext(symbol) & (N-1)) and makes its node own it; ml_config_set(''symbols'', ...) on the router then serves it. A placed symbol changes partition only with ml_move_symbol.';

-- The subscriptions the leaders need: every node subscribes to each node owning a leader (a
-- publisher), and to no other: a walsender decodes all of its node's WAL, so a subscription to a
-- node publishing nothing would cost that node CPU for nothing. A new subscription copies the
-- publisher's bars first unless the subscriber holds them (a leader that moved). A subscription to
-- a node that no longer owns a leader is dropped once it has received that node's changes up to
-- now, then the slot. Idempotent; run by ml_cluster_replicate and after a leader moves.
CREATE FUNCTION cryptoml_router.replicate_leaders() RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    leaders text[] := ARRAY(SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')));
    publishers text[];
    pub record;
    sub record;
    slot text;
    copy boolean;
    lsn pg_lsn;
    dropped text;
    pairs jsonb := '[]';
    pruned jsonb := '[]';
  BEGIN
    publishers := ARRAY(SELECT DISTINCT p.node FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition)
                         WHERE m.symbol = ANY (leaders) AND p.node IS NOT NULL);
    FOR pub IN SELECT * FROM cryptoml_router.nodes WHERE name = ANY (publishers) ORDER BY node_no LOOP
      FOR sub IN SELECT * FROM cryptoml_router.nodes WHERE name <> pub.name ORDER BY node_no LOOP
        slot := format('cryptoml_%s_to_%s', pub.name, sub.name);
        PERFORM cryptoml_router.on_create_slot(pub.name, slot);
        -- copy the publisher's bars only to a subscriber that has none of its leaders' bars
        copy := NOT EXISTS (SELECT 1 FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition)
                             WHERE p.node = pub.name AND m.symbol = ANY (leaders)
                               AND coalesce((cryptoml_router.on_counts(sub.name, m.symbol) ->> 'bars')::bigint, 0) > 0);
        PERFORM cryptoml_router.on_subscribe(sub.name, pub.name, pub.conninfo, slot, copy);
        pairs := pairs || jsonb_build_object('publisher', pub.name, 'subscriber', sub.name, 'slot', slot, 'copy_data', copy);
      END LOOP;
    END LOOP;
    FOR pub IN SELECT * FROM cryptoml_router.nodes WHERE NOT (name = ANY (publishers)) ORDER BY node_no LOOP
      lsn := NULL;
      FOR sub IN SELECT * FROM cryptoml_router.nodes WHERE name <> pub.name ORDER BY node_no LOOP
        lsn := coalesce(lsn, cryptoml_router.on_wal_lsn(pub.name));
        dropped := cryptoml_router.on_unsubscribe(sub.name, pub.name, lsn, 60);
        IF cryptoml_router.on_drop_slot(pub.name, coalesce(dropped, format('cryptoml_%s_to_%s', pub.name, sub.name))) THEN
          pruned := pruned || jsonb_build_object('publisher', pub.name, 'subscriber', sub.name);
        END IF;
      END LOOP;
    END LOOP;
    RETURN jsonb_build_object('publishers', to_jsonb(publishers), 'subscriptions', pairs, 'dropped', pruned);
  END
  $$;

CREATE FUNCTION ml_cluster_replicate() RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    repl jsonb;
    roles jsonb;
    step text := 'setting the symbols'' roles on the nodes';
    e_st text; e_msg text;
  BEGIN
    -- roles first: a publication carries the leaders its node owns
    roles := cryptoml_router.sync_symbols();
    step := 'subscribing the nodes to the leaders'' owners';
    repl := cryptoml_router.replicate_leaders();
    RETURN repl || jsonb_build_object('symbols', roles);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT;
    RAISE EXCEPTION 'ml_cluster_replicate() stopped while %: %', step, regexp_replace(e_msg, '^\S+\(\d+\): \[[^]]*\] REMOTE [A-Z]+: ', '')
      USING ERRCODE = CASE WHEN cryptoml_router.is_node_failure(e_st, e_msg) THEN '08006' ELSE e_st END,
            HINT = 'What was done stays done (each step is idempotent): rerun it once every node answers.';
  END
  $$;
COMMENT ON FUNCTION ml_cluster_replicate() IS 'Replication of the leaders'' bars: the roles (owners own, the other nodes hold the leaders as replicas), then a slot and a subscription from every node to each node owning a leader, and none to the others (dropped once caught up). Idempotent: rerun after adding a node or changing the leaders.';

CREATE FUNCTION ml_cluster_health()
  RETURNS TABLE (node text, node_no integer, partitions integer[], reachable boolean, error text, status jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n record;
  BEGIN
    FOR n IN SELECT x.name, x.node_no FROM cryptoml_router.nodes x ORDER BY x.node_no LOOP
      node := n.name; node_no := n.node_no;
      partitions := ARRAY(SELECT p.partition FROM cryptoml_router.partitions p WHERE p.node = n.name ORDER BY 1);
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        status := cryptoml_router.on_status(n.name);
        reachable := true; error := NULL;
      EXCEPTION WHEN OTHERS THEN
        status := NULL; error := SQLERRM;
        reachable := NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM);
      END;
      RETURN NEXT;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_cluster_health() IS 'Each node: its partitions, whether it answers (else the error) and its cryptoml_internal.node_status(): owned / moving / replica symbols, subscriptions with their lag, slots.';

CREATE FUNCTION ml_copy_target(symbol text) RETURNS text
  LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT n.conninfo FROM cryptoml_router.partitions p JOIN cryptoml_router.nodes n ON n.name = p.node
   WHERE p.partition = (SELECT cryptoml_router.partition_of($1))
  $$;
COMMENT ON FUNCTION ml_copy_target(text) IS 'The conninfo of the node owning a symbol (refused while it moves), for COPY of its bars straight into that node''s rollingChartData (PL/Proxy routes calls, not COPY).';

-- ===========================================================================================
-- The user API: same names, signatures and result columns as on a node
-- ===========================================================================================
-- The hot path: the PL/Proxy call (routing is one inlined index probe) inside one exception block
-- that turns a lost node into an error naming it and retries once on a connection to a node that
-- has restarted since; nothing else.
CREATE FUNCTION ml_forecast(symbol text, horizon integer,
                            OUT symbol text, OUT horizon integer, OUT forecast_at timestamp, OUT predicted_change float8,
                            OUT predicted_price float8, OUT confidence float8, OUT signal text, OUT model_version text,
                            OUT expires_at timestamp, OUT cached boolean, OUT stale boolean,
                            OUT raw_change float8, OUT lower float8, OUT upper float8)
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM cryptoml_router.forecast_guarded($1, $2) $$;

-- (ml_forecast's IN and OUT parameters share names, which PL/pgSQL refuses: the guard is apart)
CREATE FUNCTION cryptoml_router.forecast_guarded(p_symbol text, p_horizon integer,
                            OUT symbol text, OUT horizon integer, OUT forecast_at timestamp, OUT predicted_change float8,
                            OUT predicted_price float8, OUT confidence float8, OUT signal text, OUT model_version text,
                            OUT expires_at timestamp, OUT cached boolean, OUT stale boolean,
                            OUT raw_change float8, OUT lower float8, OUT upper float8)
  LANGUAGE plpgsql VOLATILE   -- no SET clause (one GUC switch less per forecast): only ml_forecast
  AS $$                       -- calls it, with search_path pinned; every name here is qualified
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
  BEGIN
    SELECT * INTO symbol, horizon, forecast_at, predicted_change, predicted_price, confidence, signal, model_version,
                  expires_at, cached, stale, raw_change, lower, upper
      FROM cryptoml_router.px_forecast(p_symbol, p_horizon);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF cryptoml_router.is_stale_connection(e_st, e_msg) THEN
      BEGIN
        SELECT * INTO symbol, horizon, forecast_at, predicted_change, predicted_price, confidence, signal, model_version,
                      expires_at, cached, stale, raw_change, lower, upper
          FROM cryptoml_router.px_forecast(p_symbol, p_horizon);
        RETURN;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      END;
    END IF;
    PERFORM cryptoml_router.routed_error(p_symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_forecast(text, integer) IS 'ml_forecast of the node owning the symbol (refused while the symbol moves; a lost node is an error naming it, SQLSTATE 08006).';

CREATE FUNCTION ml_ingest_klines(exchange text, symbol text, payload jsonb) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
  BEGIN
    RETURN cryptoml_router.px_ingest_klines(exchange, symbol, payload);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF cryptoml_router.is_stale_connection(e_st, e_msg) THEN
      BEGIN
        RETURN cryptoml_router.px_ingest_klines(exchange, symbol, payload);   -- idempotent: an upsert
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      END;
    END IF;
    PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_ingest_klines(text, text, jsonb) IS 'ml_ingest_klines on the node owning the symbol (the symbol is the configured name, e.g. BTCUSDT; the node maps it to the exchange''s product).';

CREATE FUNCTION ml_insert_bars(symbol text, bars jsonb) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
  BEGIN
    RETURN cryptoml_router.px_insert_bars(symbol, bars);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF cryptoml_router.is_stale_connection(e_st, e_msg) THEN
      BEGIN
        RETURN cryptoml_router.px_insert_bars(symbol, bars);   -- idempotent: an upsert
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      END;
    END IF;
    PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_insert_bars(text, jsonb) IS 'ml_insert_bars on the node owning the symbol. For bulk loads, COPY straight to the node: ml_copy_target(symbol).';

CREATE FUNCTION ml_train(symbol text, horizon integer, model_type text DEFAULT 'xgboost', options jsonb DEFAULT '{}')
  RETURNS mlTrainingBatches
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
    r @extschema@.mltrainingbatches;
  BEGIN
    r := cryptoml_router.px_train(symbol, horizon, model_type, options);
    RETURN r;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_train(text, integer, text, jsonb) IS 'ml_train on the node owning the symbol.';

CREATE FUNCTION ml_backtest(symbol text, horizon integer, model_type text DEFAULT 'xgboost', "from" timestamp DEFAULT NULL,
                            "to" timestamp DEFAULT NULL, options jsonb DEFAULT '{}')
  RETURNS TABLE (run_id text, strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8,
                 profit_factor float8, sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8,
                 total_return_pct float8, trades_per_year float8, predictions bigint, rmse float8, baseline_rmse float8,
                 directional_accuracy float8)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
  BEGIN
    RETURN QUERY SELECT * FROM cryptoml_router.px_backtest(symbol, horizon, model_type, "from", "to", options);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_backtest(text, integer, text, timestamp, timestamp, jsonb) IS 'ml_backtest on the node owning the symbol.';

CREATE FUNCTION ml_simulate(symbol text, horizon integer DEFAULT 15, tp_sigma float8 DEFAULT 2, sl_sigma float8 DEFAULT 1,
                            fee_pct float8 DEFAULT 0.1, slippage_pct float8 DEFAULT 0.05)
  RETURNS tradeSimulations
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
    r @extschema@.tradesimulations;
  BEGIN
    r := cryptoml_router.px_simulate(symbol, horizon, tp_sigma, sl_sigma, fee_pct, slippage_pct);
    RETURN r;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
  END
  $$;
COMMENT ON FUNCTION ml_simulate(text, integer, float8, float8, float8, float8) IS 'ml_simulate on the node owning the symbol.';

-- A fan-out's rows from every serving node: one parallel RUN ON ALL; when it fails, node by node,
-- so that a lost node is reported (report_down) and the others still answer.
CREATE FUNCTION ml_health()
  RETURNS TABLE (scope text, metric text, value float8, unit text, threshold float8, ok boolean, detail text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n record;
  BEGIN
    BEGIN
      RETURN QUERY SELECT * FROM cryptoml_router.px_all_health();
      RETURN;
    EXCEPTION WHEN OTHERS THEN
      NULL;   -- a node is lost (or failed): ask them one by one below
    END;
    FOR n IN SELECT s AS name FROM cryptoml_router.serving_nodes() s LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        RETURN QUERY SELECT * FROM cryptoml_router.on_health(n.name);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        scope := 'cluster'; metric := 'node_reachable'; value := 0; unit := 'bool'; threshold := 1; ok := false;
        detail := format('node %s is unreachable (its symbols: %s): %s', n.name,
                         coalesce((SELECT string_agg(m.symbol, ', ' ORDER BY m.symbol) FROM cryptoml_router.symbol_map m
                                     JOIN cryptoml_router.partitions p ON p.partition = m.partition WHERE p.node = n.name), 'none'),
                         left(SQLERRM, 300));
        RETURN NEXT;
      END;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_health() IS 'The union of every serving node''s ml_health rows; a node that cannot be reached adds one row (scope cluster, metric node_reachable, ok false) instead.';

CREATE FUNCTION ml_workers(OUT worker text, OUT database text, OUT state text, OUT pid integer, OUT started_at timestamptz,
                           OUT last_run timestamptz, OUT next_run timestamptz, OUT cycles bigint, OUT errors bigint,
                           OUT last_error text)
  RETURNS SETOF record
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n record;
  BEGIN
    BEGIN
      RETURN QUERY SELECT * FROM cryptoml_router.px_all_workers();
      RETURN;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
    FOR n IN SELECT s AS name FROM cryptoml_router.serving_nodes() s LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        RETURN QUERY SELECT * FROM cryptoml_router.on_workers(n.name);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        worker := 'node ' || n.name; database := NULL; state := 'unreachable'; pid := NULL; started_at := NULL;
        last_run := NULL; next_run := NULL; cycles := NULL; errors := NULL; last_error := left(SQLERRM, 500);
        RETURN NEXT;
      END;
    END LOOP;
  END
  $$;
COMMENT ON FUNCTION ml_workers() IS 'The union of every serving node''s ml_workers rows; a node that cannot be reached adds one row (worker ''node <name>'', state unreachable).';

CREATE FUNCTION cryptoml_router.forecast_quality(p_symbol text, p_horizon integer, p_since timestamp)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
    n record;
  BEGIN
    IF p_symbol IS NOT NULL THEN
      BEGIN
        RETURN QUERY SELECT * FROM cryptoml_router.px_forecast_quality(p_symbol, p_horizon, p_since);
        RETURN;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
        PERFORM cryptoml_router.routed_error(p_symbol, e_st, e_msg, e_det, e_hint);
      END;
    END IF;
    -- groups are per symbol, and each symbol lives on one node: the union is the answer
    BEGIN
      RETURN QUERY SELECT q.* FROM cryptoml_router.px_all_forecast_quality(p_horizon, p_since) q ORDER BY 1, 2, 3;
      RETURN;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
    FOR n IN SELECT s AS name FROM cryptoml_router.serving_nodes() s LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        RETURN QUERY SELECT * FROM cryptoml_router.on_forecast_quality(n.name, NULL, p_horizon, p_since);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        RAISE WARNING 'ml_forecast_quality: node % is unreachable, its symbols are left out', n.name USING DETAIL = left(SQLERRM, 500);
      END;
    END LOOP;
  END
  $$;

CREATE FUNCTION ml_forecast_quality(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (symbol text, horizon integer, model text, forecasts bigint, rmse float8, mae float8, baseline_rmse float8,
                 directional_accuracy float8, accuracy_low95 float8, accuracy_high95 float8, interval_coverage float8,
                 interval_mean_width float8)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT * FROM cryptoml_router.forecast_quality($1, $2, $3) $$;
COMMENT ON FUNCTION ml_forecast_quality(text, integer, timestamp) IS 'With a symbol: ml_forecast_quality of its node. Without: the union of every serving node''s rows (groups are per symbol); a node that cannot be reached is left out with a WARNING.';

CREATE FUNCTION ml_performance(symbol text DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (strategy text, trades integer, win_rate float8, avg_pnl float8, median_pnl float8, profit_factor float8,
                 sharpe float8, sortino float8, max_drawdown_pct float8, exposure float8, total_return_pct float8,
                 trades_per_year float8, period_start timestamp, period_end timestamp)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
    n record;
    calc text;
    o timestamp[] := '{}';
    c timestamp[] := '{}';
    pnl float8[] := '{}';
    first timestamp;
    last timestamp;
    cnt integer;
  BEGIN
    IF symbol IS NOT NULL THEN
      BEGIN
        RETURN QUERY SELECT * FROM cryptoml_router.px_performance(symbol, since);
        RETURN;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
        PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
      END;
    END IF;
    -- every node's completed trades pooled in (entry_bar, node_no, id) order, then the node's own
    -- performance_of on the pool: sums and counts, never averages of averages
    CREATE TEMP TABLE IF NOT EXISTS cryptoml_router_trades (node_no integer, entry_bar timestamp, completed_at timestamp,
                                                            pnl float8, id integer) ON COMMIT DROP;
    TRUNCATE pg_temp.cryptoml_router_trades;
    FOR n IN SELECT x.name, x.node_no FROM cryptoml_router.nodes x WHERE x.name IN (SELECT cryptoml_router.serving_nodes()) ORDER BY x.node_no LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        INSERT INTO pg_temp.cryptoml_router_trades
          SELECT n.node_no, i.entry_bar, i.completed_at, i.pnl, i.id FROM cryptoml_router.on_performance_inputs(n.name, NULL, since) i;
        calc := coalesce(calc, n.name);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        RAISE WARNING 'ml_performance: node % is unreachable, its trades are left out', n.name USING DETAIL = left(SQLERRM, 500);
      END;
    END LOOP;
    IF calc IS NULL THEN
      RAISE EXCEPTION 'ml_performance: no node answered' USING ERRCODE = 'connection_failure';
    END IF;
    SELECT coalesce(array_agg(t.entry_bar ORDER BY t.entry_bar, t.node_no, t.id), '{}'),
           coalesce(array_agg(t.completed_at ORDER BY t.entry_bar, t.node_no, t.id), '{}'),
           coalesce(array_agg(t.pnl ORDER BY t.entry_bar, t.node_no, t.id), '{}'),
           min(t.entry_bar), max(t.completed_at), count(*)
      INTO o, c, pnl, first, last, cnt FROM pg_temp.cryptoml_router_trades t;
    IF cnt = 0 OR last <= first THEN
      strategy := 'simulations'; trades := cnt; period_start := first; period_end := last;
      RETURN NEXT;
      RETURN;
    END IF;
    RETURN QUERY SELECT 'simulations'::text, p.*, first, last FROM cryptoml_router.on_performance_of(calc, o, c, pnl, first, last) p;
  END
  $$;
COMMENT ON FUNCTION ml_performance(text, timestamp) IS 'With a symbol: ml_performance of its node (with its baselines). Without: the completed trades of every serving node pooled, then the node''s own performance_of over the pool (a node that cannot be reached is left out with a WARNING).';

CREATE FUNCTION ml_calibration(symbol text DEFAULT NULL, horizon integer DEFAULT NULL, since timestamp DEFAULT NULL)
  RETURNS TABLE (bucket text, forecasts bigint, stated_confidence float8, observed_hit_rate float8, hit_low95 float8, hit_high95 float8,
                 ece float8, brier float8, brier_skill float8, largest_gap float8)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    e_st text; e_msg text; e_det text; e_hint text;
    n record;
    calc text;
    conf float8[];
    hit boolean[];
  BEGIN
    IF symbol IS NOT NULL THEN
      BEGIN
        RETURN QUERY SELECT * FROM cryptoml_router.px_calibration(symbol, horizon, since);
        RETURN;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
        PERFORM cryptoml_router.routed_error(symbol, e_st, e_msg, e_det, e_hint);
      END;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS cryptoml_router_outcomes (node_no integer, conf float8, hit boolean) ON COMMIT DROP;
    TRUNCATE pg_temp.cryptoml_router_outcomes;
    FOR n IN SELECT x.name, x.node_no FROM cryptoml_router.nodes x WHERE x.name IN (SELECT cryptoml_router.serving_nodes()) ORDER BY x.node_no LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n.name);
        INSERT INTO pg_temp.cryptoml_router_outcomes
          SELECT n.node_no, i.conf, i.hit FROM cryptoml_router.on_calibration_inputs(n.name, NULL, horizon, since) i;
        calc := coalesce(calc, n.name);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
        RAISE WARNING 'ml_calibration: node % is unreachable, its forecasts are left out', n.name USING DETAIL = left(SQLERRM, 500);
      END;
    END LOOP;
    IF calc IS NULL THEN
      RAISE EXCEPTION 'ml_calibration: no node answered' USING ERRCODE = 'connection_failure';
    END IF;
    SELECT array_agg(t.conf), array_agg(t.hit) INTO conf, hit FROM pg_temp.cryptoml_router_outcomes t;
    IF conf IS NULL THEN
      RETURN;   -- no outcome anywhere: no rows, as on a node
    END IF;
    RETURN QUERY SELECT * FROM cryptoml_router.on_reliability_report(calc, conf, hit);
  END
  $$;
COMMENT ON FUNCTION ml_calibration(text, integer, timestamp) IS 'With a symbol: ml_calibration of its node. Without: every serving node''s (confidence, hit) pairs pooled, then the node''s own reliability_report over the pool.';

CREATE FUNCTION ml_version() RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n text;
  BEGIN
    FOR n IN SELECT x.name FROM cryptoml_router.nodes x ORDER BY x.node_no LOOP
      BEGIN
        RETURN cryptoml_router.on_version(n);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN RAISE; END IF;
      END;
    END LOOP;
    RAISE EXCEPTION 'ml_version: no node answered' USING ERRCODE = 'connection_failure';
  END
  $$;
COMMENT ON FUNCTION ml_version() IS 'The cryptoml version of the first node that answers (node_no order).';

-- ===========================================================================================
-- Configuration: read from every node (they must agree), written to every node
-- ===========================================================================================
-- Each node's answer to one reader, as {node: value}; lost nodes are left out with a WARNING.
CREATE FUNCTION cryptoml_router.config_read(what text, path text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n text;
    v jsonb;
    out jsonb := '{}';
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM cryptoml_router.nodes) THEN
      RAISE EXCEPTION 'the cryptoml cluster has no nodes' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'ml_cluster_add_node(name, conninfo) adds one.';
    END IF;
    FOR n IN SELECT x.name FROM cryptoml_router.nodes x ORDER BY x.node_no LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n);
        v := CASE what WHEN 'config' THEN cryptoml_router.on_config(n)
                       WHEN 'get' THEN cryptoml_router.on_config_get(n, path)
                       ELSE (SELECT coalesce(jsonb_agg(to_jsonb(k) ORDER BY k.path), '[]') FROM cryptoml_router.on_config_keys(n) k) END;
        out := out || jsonb_build_object(n, v);
      EXCEPTION WHEN OTHERS THEN
        IF NOT cryptoml_router.is_node_failure(SQLSTATE, SQLERRM) THEN
          DECLARE
            st text; msg text; det text; hnt text;
          BEGIN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
            PERFORM cryptoml_router.reraise(st, msg, det, hnt);
          END;
        END IF;
        RAISE WARNING 'node % is unreachable: its configuration is not compared', n USING DETAIL = left(SQLERRM, 500);
      END;
    END LOOP;
    IF out = '{}' THEN
      RAISE EXCEPTION 'no node answered' USING ERRCODE = 'connection_failure';
    END IF;
    RETURN out;
  END
  $$;

-- The one value all answering nodes agree on; else an error naming which nodes hold which value.
CREATE FUNCTION cryptoml_router.config_agreed(answers jsonb, what text) RETURNS jsonb
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    groups text;
  BEGIN
    IF (SELECT count(DISTINCT e.value) FROM jsonb_each(answers) e) = 1 THEN
      RETURN (SELECT e.value FROM jsonb_each(answers) e LIMIT 1);
    END IF;
    SELECT string_agg(format('%s: %s', g.nodes, left(g.value::text, 200)), '; ' ORDER BY g.nodes) INTO groups
      FROM (SELECT string_agg(e.key, ', ' ORDER BY e.key) AS nodes, e.value FROM jsonb_each(answers) e GROUP BY e.value) g;
    RAISE EXCEPTION 'the nodes disagree on %', what USING ERRCODE = 'data_exception', DETAIL = left(groups, 1500),
      HINT = 'Set the value again on the router (ml_config_set or ml_config_reset write every node).';
  END
  $$;

CREATE FUNCTION ml_config() RETURNS jsonb
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cryptoml_router.config_agreed(cryptoml_router.config_read('config', NULL), 'the configuration (ml_config())') $$;
COMMENT ON FUNCTION ml_config() IS 'The configuration every node holds (an error names the nodes when they disagree).';

CREATE FUNCTION ml_config_get(path text) RETURNS jsonb
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cryptoml_router.config_agreed(cryptoml_router.config_read('get', $1), format('ml_config_get(%L)', $1)) $$;
COMMENT ON FUNCTION ml_config_get(text) IS 'One configuration key or section, as every node holds it (an error names the nodes when they disagree).';

CREATE FUNCTION ml_config_keys()
  RETURNS TABLE (path text, value jsonb, default_value jsonb, is_default boolean, rule text)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  SELECT k->>'path', k->'value', k->'default_value', (k->>'is_default')::boolean, k->>'rule'
    FROM jsonb_array_elements(cryptoml_router.config_agreed(cryptoml_router.config_read('keys', NULL), 'ml_config_keys()')) k
   ORDER BY 1
  $$;
COMMENT ON FUNCTION ml_config_keys() IS 'Every settable key with its value, default and rule, as every node holds them (an error names the nodes when they disagree).';

-- Two phases, no distributed transaction: (1) every node checks the change (config_check, or
-- that it answers): a lost node or a bad value stops it before anything is written; (2) every node
-- applies it; a node failing in phase 2 gives an error naming the nodes that have the new value
-- (rerunning the same call completes it: setting a value is idempotent). Then the symbols and
-- leaders follow (sync_symbols) when the change can touch them.
-- A symbol that becomes a leader: its bars so far, copied from its owner to every other node, with
-- the owner frozen meanwhile (role moving: writes refused, not published), so no bar is written
-- between the copy and the moment its owner starts publishing it; then it is owned again.
CREATE FUNCTION cryptoml_router.copy_leader_history(leader text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    owner text := (SELECT p.node FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition)
                    WHERE m.symbol = leader);
    chunk_rows integer := cryptoml_router.setting('move_chunk_rows', '5000')::integer;
    n record;
    cur text;
    chunk jsonb;
    k bigint;
    copied jsonb := '{}';
  BEGIN
    IF owner IS NULL THEN
      RETURN copied;   -- not placed yet: no bars anywhere
    END IF;
    PERFORM cryptoml_router.on_set_symbol(owner, leader, 'moving');
    BEGIN
      FOR n IN SELECT x.name FROM cryptoml_router.nodes x WHERE x.name <> owner ORDER BY x.node_no LOOP
        PERFORM cryptoml_router.on_purge(n.name, leader, false);   -- what an earlier time as a leader left
        cur := NULL; k := 0;
        LOOP
          chunk := cryptoml_router.on_export(owner, leader, 'bars', cur, chunk_rows);
          IF jsonb_array_length(chunk -> 'rows') > 0 THEN
            k := k + cryptoml_router.on_import(n.name, leader, 'bars', chunk -> 'rows');
          END IF;
          EXIT WHEN chunk ->> 'next' IS NULL;
          cur := chunk ->> 'next';
        END LOOP;
        PERFORM cryptoml_router.on_set_symbol(n.name, leader, 'replica');
        copied := copied || jsonb_build_object(n.name, k);
      END LOOP;
      -- the slots exist before the owner publishes: no bar falls between the copy and the stream
      PERFORM cryptoml_router.replicate_leaders();
    EXCEPTION WHEN OTHERS THEN
      BEGIN
        PERFORM cryptoml_router.on_set_symbol(owner, leader, 'owned');   -- not left frozen
      EXCEPTION WHEN OTHERS THEN
        NULL;
      END;
      RAISE;
    END;
    PERFORM cryptoml_router.on_set_symbol(owner, leader, 'owned');   -- published from now on
    RETURN copied;
  END
  $$;

CREATE FUNCTION cryptoml_router.config_push(op text, path text, value jsonb) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    n text;
    nodes text[] := ARRAY(SELECT x.name FROM cryptoml_router.nodes x ORDER BY x.node_no);
    done text[] := '{}';
    canonical jsonb;
    result jsonb;
    r jsonb;
    nparts integer := (SELECT count(*) FROM cryptoml_router.partitions);
    s text;
    old_leaders text[];
    st text; msg text; det text; hnt text;
    what_call text := CASE op WHEN 'set' THEN format('ml_config_set(%L, ...)', path) WHEN 'reset' THEN format('ml_config_reset(%L)', path)
                         ELSE 'ml_config_reset_all()' END;
  BEGIN
    IF cardinality(nodes) = 0 THEN
      RAISE EXCEPTION 'the cryptoml cluster has no nodes' USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = 'ml_cluster_add_node(name, conninfo) adds one.';
    END IF;
    -- phase 1
    FOREACH n IN ARRAY nodes LOOP
      BEGIN
        PERFORM cryptoml_router.ping(n);
        IF op = 'set' THEN
          canonical := cryptoml_router.on_config_check(n, path, value);
        ELSIF op = 'reset' THEN
          PERFORM cryptoml_router.on_config_get(n, path);
        ELSE
          PERFORM cryptoml_router.on_version(n);
        END IF;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
        IF cryptoml_router.is_node_failure(st, msg) THEN
          RAISE EXCEPTION '% was not applied: node % is unreachable', what_call, n USING ERRCODE = 'connection_failure',
            DETAIL = left(msg, 900), HINT = 'Nothing was changed on any node; retry once every node answers (ml_cluster_health()).';
        END IF;
        PERFORM cryptoml_router.reraise(st, msg, det, hnt);
      END;
    END LOOP;
    -- new symbols must land on a partition that has a node: checked before anything is written
    IF op = 'set' AND path = 'symbols' AND jsonb_typeof(canonical) = 'array' AND nparts > 0 THEN
      FOR s IN SELECT jsonb_array_elements_text(canonical) LOOP
        IF NOT EXISTS (SELECT 1 FROM cryptoml_router.symbol_map m WHERE m.symbol = s)
           AND cryptoml_router.node_of_partition(hashtext(s) & (nparts - 1)) IS NULL THEN
          RAISE EXCEPTION '% was not applied: symbol % would be placed on partition %, which has no node', what_call, s, hashtext(s) & (nparts - 1)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Assign every partition (ml_cluster_assign) or place the symbol first with ml_cluster_add_symbol(symbol, partition).';
        END IF;
      END LOOP;
    END IF;
    IF nparts > 0 AND (op = 'reset_all' OR path IN ('features', 'features.crossMarketSymbols')) THEN
      old_leaders := ARRAY(SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')));
    END IF;
    -- phase 2
    FOREACH n IN ARRAY nodes LOOP
      BEGIN
        r := CASE op WHEN 'set' THEN cryptoml_router.on_config_set(n, path, value)
                     WHEN 'reset' THEN cryptoml_router.on_config_reset(n, path)
                     ELSE cryptoml_router.on_config_reset_all(n) END;
        result := coalesce(result, r);
        done := done || n;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RAISE EXCEPTION '% stopped at node %: the new value is on nodes {%}, not on {%}', what_call, n,
                        array_to_string(done, ', '), array_to_string(nodes[cardinality(done) + 1:], ', ')
          USING ERRCODE = st, DETAIL = left(msg, 900),
                HINT = 'Rerun the same call once the node answers: it is idempotent, the nodes that have the value keep it.';
      END;
    END LOOP;
    IF nparts > 0 AND (op = 'reset_all' OR path IN ('symbols', 'features', 'features.crossMarketSymbols')) THEN
      BEGIN
        IF old_leaders IS NOT NULL THEN
          -- a new leader's history goes to every node before its owner publishes its new bars
          FOR s IN SELECT x FROM jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')) x
                    WHERE NOT (x = ANY (old_leaders)) LOOP
            PERFORM cryptoml_router.copy_leader_history(s);
          END LOOP;
        END IF;
        PERFORM cryptoml_router.sync_symbols();
        IF old_leaders IS NOT NULL THEN
          PERFORM cryptoml_router.replicate_leaders();   -- other leaders: other publishers
        END IF;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RAISE EXCEPTION '% is on every node, but the symbols'' placement and roles did not follow: %', what_call,
                        regexp_replace(msg, '^\S+\(\d+\): \[[^]]*\] REMOTE [A-Z]+: ', '')
          USING ERRCODE = st, HINT = 'Rerun the same call, or SELECT ml_cluster_replicate(), once every node answers.';
      END;
    END IF;
    RETURN result;
  END
  $$;

CREATE FUNCTION ml_config_set(path text, value jsonb) RETURNS jsonb
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cryptoml_router.config_push('set', $1, $2) $$;
COMMENT ON FUNCTION ml_config_set(text, jsonb) IS 'Checks the value on every node (config_check), then sets it on every node; returns the stored value. New symbols enter the map (hashtext & (N-1)) and their owners own them; leaders are replicated.';

CREATE FUNCTION ml_config_reset(path text) RETURNS jsonb
  LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cryptoml_router.config_push('reset', $1, NULL) $$;
COMMENT ON FUNCTION ml_config_reset(text) IS 'Restores one key to its default on every node (after checking that every node answers); returns the default.';

CREATE FUNCTION ml_config_reset_all() RETURNS jsonb
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT cryptoml_router.config_push('reset_all', NULL, NULL) $$;
COMMENT ON FUNCTION ml_config_reset_all() IS 'Restores every key to its default on every node (after checking that every node answers); returns the default configuration.';

-- ===========================================================================================
-- Moving a symbol (docs/scale-out.md, "Moving a symbol")
-- ===========================================================================================
CREATE FUNCTION ml_move_symbol(symbol text, to_partition integer) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
  DECLARE
    t0 timestamptz := clock_timestamp();
    m record;
    from_p integer;
    src text;
    dst text;
    resumed boolean := false;
    switched boolean := false;
    leader boolean;
    chunk_rows integer := cryptoml_router.setting('move_chunk_rows', '5000')::integer;
    parts text[];
    part text;
    cur text;
    chunk jsonb;
    k bigint;
    copied jsonb := '{}';
    caught jsonb := '{}';
    cursors jsonb := '{}';
    c_old jsonb;
    c_new jsonb;
    diff text;
    purged jsonb;
    step text := 'checking';
    e_st text; e_msg text; e_det text; e_hint text;
  BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('cryptoml_router move'), hashtext(symbol)) THEN
      RAISE EXCEPTION 'another ml_move_symbol of % is running', symbol USING ERRCODE = 'lock_not_available';
    END IF;
    SELECT * INTO m FROM cryptoml_router.symbol_map s WHERE s.symbol = ml_move_symbol.symbol;
    IF NOT FOUND THEN
      PERFORM cryptoml_router.unknown_symbol(symbol);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM cryptoml_router.partitions p WHERE p.partition = to_partition) THEN
      RAISE EXCEPTION 'no partition %', to_partition USING ERRCODE = 'invalid_parameter_value',
        DETAIL = format('rule: 0 <= partition < %s', (SELECT count(*) FROM cryptoml_router.partitions));
    END IF;
    dst := cryptoml_router.node_of_partition(to_partition);
    IF dst IS NULL THEN
      RAISE EXCEPTION 'partition % has no node', to_partition USING ERRCODE = 'object_not_in_prerequisite_state',
        HINT = format('SELECT ml_cluster_assign(%s, node) first.', to_partition);
    END IF;
    IF m.state = 'moving' THEN
      IF m.move_to <> to_partition THEN
        RAISE EXCEPTION 'a move of % to partition % is in progress', symbol, m.move_to USING ERRCODE = 'object_in_use',
          HINT = format('Finish it first: SELECT ml_move_symbol(%L, %s)', symbol, m.move_to);
      END IF;
      resumed := true;
      from_p := m.move_from;
      switched := m.partition = m.move_to;
    ELSE
      IF m.partition = to_partition THEN
        RETURN jsonb_build_object('symbol', symbol, 'moved', false, 'partition', to_partition, 'node', dst,
                                  'reason', 'the symbol is on this partition already');
      END IF;
      from_p := m.partition;
    END IF;
    src := cryptoml_router.node_of_partition(from_p);
    IF src = dst AND NOT resumed THEN
      -- the same node holds both partitions: only the map changes
      UPDATE cryptoml_router.symbol_map s SET partition = to_partition WHERE s.symbol = ml_move_symbol.symbol;
      RETURN jsonb_build_object('symbol', symbol, 'moved', true, 'from_partition', from_p, 'to_partition', to_partition,
                                'from_node', src, 'to_node', dst, 'same_node', true,
                                'seconds', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3));
    END IF;
    step := format('reading features.crossMarketSymbols from the nodes');
    leader := symbol IN (SELECT jsonb_array_elements_text(cryptoml_router.config_of_nodes('features.crossMarketSymbols')));
    IF NOT switched THEN
      -- 1. freeze: the router refuses writes (committed now), the old owner stops serving it
      step := 'freezing it in the map (router_conninfo)';
      PERFORM cryptoml_router.self_map_set(symbol, 'moving', from_p, from_p, to_partition);
      step := format('freezing it on node %s', src);
      PERFORM cryptoml_router.on_set_symbol(src, symbol, 'moving');
      -- the new node starts from nothing of the symbol: leftovers (an earlier owner's rows, a copy
      -- an interrupted move began, a replica's bars and the indicator checkpoints it kept from when
      -- it owned the symbol) would make the counts differ; a replica's bars are copied again
      step := format('clearing leftovers on node %s', dst);
      PERFORM cryptoml_router.on_purge(dst, symbol, false);
      -- 2. copy part by part in dependency order, keyset chunks; then a catch-up pass from the
      --    last cursors (rows committed by writes that were in flight); then compare the counts
      step := format('listing the parts on node %s', src);
      parts := ARRAY(SELECT cryptoml_router.on_parts(src));
      FOREACH part IN ARRAY parts LOOP
        step := format('copying part %s from node %s to node %s', part, src, dst);
        cur := NULL; k := 0;
        LOOP
          chunk := cryptoml_router.on_export(src, symbol, part, cur, chunk_rows);
          IF jsonb_array_length(chunk -> 'rows') > 0 THEN
            k := k + cryptoml_router.on_import(dst, symbol, part, chunk -> 'rows');
          END IF;
          EXIT WHEN chunk ->> 'next' IS NULL;
          cur := chunk ->> 'next';
        END LOOP;
        copied := copied || jsonb_build_object(part, k);
        cursors := cursors || jsonb_build_object(part, cur);
      END LOOP;
      FOREACH part IN ARRAY parts LOOP
        step := format('catching up part %s from node %s to node %s', part, src, dst);
        cur := cursors ->> part; k := 0;
        LOOP
          chunk := cryptoml_router.on_export(src, symbol, part, cur, chunk_rows);
          IF jsonb_array_length(chunk -> 'rows') > 0 THEN
            k := k + cryptoml_router.on_import(dst, symbol, part, chunk -> 'rows');
          END IF;
          EXIT WHEN chunk ->> 'next' IS NULL;
          cur := chunk ->> 'next';
        END LOOP;
        caught := caught || jsonb_build_object(part, k);
      END LOOP;
      step := format('counting rows on nodes %s and %s', src, dst);
      c_old := cryptoml_router.on_counts(src, symbol);
      c_new := cryptoml_router.on_counts(dst, symbol);
      IF c_old IS DISTINCT FROM c_new THEN
        SELECT string_agg(format('%s: %s on %s, %s on %s', coalesce(a.key, b.key), coalesce(a.value::text, '0'), src,
                                 coalesce(b.value::text, '0'), dst), '; ' ORDER BY coalesce(a.key, b.key)) INTO diff
          FROM jsonb_each(c_old) a FULL JOIN jsonb_each(c_new) b ON a.key = b.key
         WHERE a.value IS DISTINCT FROM b.value;
        RAISE EXCEPTION 'ml_move_symbol(%, %) stopped: after the copy node % and node % hold different row counts', symbol, to_partition, src, dst
          USING ERRCODE = 'data_exception', DETAIL = left(diff, 1500),
                HINT = format('The symbol stays frozen (moving, writes refused) on node %s; rerun SELECT ml_move_symbol(%L, %s) to resume.', src, symbol, to_partition);
      END IF;
      -- 3. switch: the new owner owns it, the map points at it (still frozen until the old copy is gone)
      step := format('switching the owner to node %s', dst);
      PERFORM cryptoml_router.on_set_symbol(dst, symbol, 'owned');
      PERFORM cryptoml_router.self_map_set(symbol, 'moving', to_partition, from_p, to_partition);
    ELSE
      step := format('switching the owner to node %s', dst);
      PERFORM cryptoml_router.on_set_symbol(dst, symbol, 'owned');
    END IF;
    -- the old owner keeps the bars as a replica when the symbol is a leader, else nothing
    step := format('purging the old copy on node %s', src);
    PERFORM cryptoml_router.on_set_symbol(src, symbol, CASE WHEN leader THEN 'replica' ELSE 'none' END);
    purged := cryptoml_router.on_purge(src, symbol, leader);
    IF leader THEN
      -- the new owner publishes it: every node subscribes to it (their replicas are current), and a
      -- node left without a leader is unsubscribed from once its last changes have arrived
      step := 'replicating the leader from its new owner';
      PERFORM cryptoml_router.replicate_leaders();
    END IF;
    -- 4. writes again
    step := 'unfreezing it in the map (router_conninfo)';
    PERFORM cryptoml_router.self_map_set(symbol, 'active', to_partition, NULL, NULL);
    RETURN jsonb_build_object('symbol', symbol, 'moved', true, 'from_partition', from_p, 'to_partition', to_partition,
                              'from_node', src, 'to_node', dst, 'same_node', false, 'resumed', resumed, 'leader', leader,
                              'rows', copied, 'catch_up_rows', caught, 'counts', coalesce(c_new, cryptoml_router.on_counts(dst, symbol)),
                              'purged', purged, 'seconds', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3));
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS e_st = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT, e_det = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF step = 'checking' OR e_msg LIKE 'ml_move_symbol(%' THEN   -- our own errors, said already
      PERFORM cryptoml_router.reraise(e_st, e_msg, e_det, e_hint);
    END IF;
    IF cryptoml_router.is_node_failure(e_st, e_msg) THEN
      e_st := '08006';
    END IF;
    e_msg := regexp_replace(e_msg, '^\S+\(\d+\): \[[^]]*\] REMOTE [A-Z]+: ', '');
    e_det := coalesce(nullif(regexp_replace(coalesce(e_det, ''), '^Remote detail: ', ''), ''), 'none');
    RAISE EXCEPTION 'ml_move_symbol(%, %) stopped while %: %', symbol, to_partition, step, e_msg
      USING ERRCODE = e_st, DETAIL = 'the node''s detail: ' || e_det,
            HINT = CASE WHEN step = 'reading features.crossMarketSymbols from the nodes' THEN 'Nothing was changed; retry once every node answers.'
                        ELSE format('The symbol stays frozen (moving, writes refused); SELECT ml_move_symbol(%L, %s) resumes the move once the nodes answer.', symbol, to_partition) END;
  END
  $$;
COMMENT ON FUNCTION ml_move_symbol(text, integer) IS 'Moves a symbol with all its rows to another partition: freezes it (writes refused), copies every part from the old node to the new one in keyset chunks plus a catch-up pass, compares the row counts, switches the map and the roles, purges the old copy (keeping the bars when it is a leader), unfreezes it. A failed move stays frozen; rerunning the same call resumes it. Returns rows per part and seconds.';

-- ===========================================================================================
-- Privileges (docs/scale-out.md, "Router"): every function runs as the extension owner, who is
-- also the role the router connects to the nodes as; PUBLIC may only read the configuration.
-- ===========================================================================================
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cryptoml_router FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA plproxy FROM PUBLIC;
REVOKE ALL ON FUNCTION ml_forecast(text, integer), ml_ingest_klines(text, text, jsonb), ml_insert_bars(text, jsonb),
  ml_train(text, integer, text, jsonb), ml_backtest(text, integer, text, timestamp, timestamp, jsonb),
  ml_simulate(text, integer, float8, float8, float8, float8), ml_health(), ml_workers(),
  ml_forecast_quality(text, integer, timestamp), ml_performance(text, timestamp), ml_calibration(text, integer, timestamp),
  ml_config_set(text, jsonb), ml_config_reset(text), ml_config_reset_all(),
  ml_cluster_init(integer), ml_cluster_add_node(text, text), ml_cluster_assign(integer, text), ml_cluster_add_symbol(text, integer),
  ml_cluster_nodes(), ml_cluster_map(), ml_cluster_replicate(), ml_cluster_health(), ml_copy_target(text),
  ml_move_symbol(text, integer) FROM PUBLIC;
