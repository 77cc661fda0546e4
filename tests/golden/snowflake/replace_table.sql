-- title: Replace a table: CREATE TABLE <tmp> AS, count; RENAME TO when absent, SWAP WITH when it exists, then drop the old data

CREATE TABLE "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>" AS SELECT 1 AS order_id;

SELECT COUNT(*) FROM "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>";

SELECT table_type FROM (SELECT table_schema, table_name, table_type FROM "ORCH_DB".INFORMATION_SCHEMA.TABLES) AS t WHERE table_schema = ? AND table_name = ?
-- params: ['ORCH_TEST', 'ORDERS'];

ALTER TABLE "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>" RENAME TO "ORCH_DB"."ORCH_TEST"."ORDERS";

CREATE TABLE "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>" AS SELECT 2 AS order_id;

SELECT COUNT(*) FROM "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>";

SELECT table_type FROM (SELECT table_schema, table_name, table_type FROM "ORCH_DB".INFORMATION_SCHEMA.TABLES) AS t WHERE table_schema = ? AND table_name = ?
-- params: ['ORCH_TEST', 'ORDERS'];

ALTER TABLE "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>" SWAP WITH "ORCH_DB"."ORCH_TEST"."ORDERS";

DROP TABLE IF EXISTS "ORCH_DB"."ORCH_TEST"."__orch_tmp_ORDERS_<random>";
