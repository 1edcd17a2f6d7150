WITH "spine" AS (
  SELECT
    *
  FROM "entity_df"
), "spine_keys__user_id" AS (
  SELECT DISTINCT
    "spine"."user_id",
    CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_ts"
  FROM "spine"
), "user_click_stats__source" AS (
  SELECT
    "src"."user_id" AS "user_id",
    CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_event_ts",
    CASE
      WHEN NOT TRY_CAST("src"."created" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."created" IS NULL
      THEN TRY_CAST("src"."created" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."created") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_created_ts",
    "src"."click_id" AS "__sqlfeat_value_click_id",
    "src"."dwell_seconds" AS "__sqlfeat_value_dwell_seconds",
    "src"."category" AS "__sqlfeat_value_category"
  FROM READ_PARQUET('/repo/data/click_events.parquet') AS "src"
  WHERE
    NOT "src"."user_id" IS NULL
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END <= (
      SELECT
        MAX("__sqlfeat_ts")
      FROM "spine_keys__user_id"
    )
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END >= (
      SELECT
        MIN("__sqlfeat_ts")
      FROM "spine_keys__user_id"
    ) - INTERVAL '2592000' SECOND
), "user_click_stats__cum" AS (
  SELECT
    "user_click_stats__source"."user_id",
    "user_click_stats__source"."__sqlfeat_event_ts",
    COUNT("user_click_stats__source"."__sqlfeat_value_click_id") OVER (
      PARTITION BY "user_click_stats__source"."user_id"
      ORDER BY "user_click_stats__source"."__sqlfeat_event_ts" NULLS FIRST
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__sqlfeat_n0",
    COUNT("user_click_stats__source"."__sqlfeat_value_dwell_seconds") OVER (
      PARTITION BY "user_click_stats__source"."user_id"
      ORDER BY "user_click_stats__source"."__sqlfeat_event_ts" NULLS FIRST
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__sqlfeat_n1",
    FSUM(CAST("user_click_stats__source"."__sqlfeat_value_dwell_seconds" AS DOUBLE)) OVER (
      PARTITION BY "user_click_stats__source"."user_id"
      ORDER BY "user_click_stats__source"."__sqlfeat_event_ts" NULLS FIRST
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__sqlfeat_s1",
    FSUM(ABS(CAST("user_click_stats__source"."__sqlfeat_value_dwell_seconds" AS DOUBLE))) OVER (
      PARTITION BY "user_click_stats__source"."user_id"
      ORDER BY "user_click_stats__source"."__sqlfeat_event_ts" NULLS FIRST
      RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__sqlfeat_a1"
  FROM "user_click_stats__source"
), "user_click_stats__probes" AS (
  SELECT
    "spine_keys__user_id"."user_id",
    "spine_keys__user_id"."__sqlfeat_ts",
    CAST(COALESCE("p0"."__sqlfeat_n0", 0) - COALESCE("p2"."__sqlfeat_n0", 0) AS BIGINT) AS "clicks_30d",
    CAST(CASE
      WHEN COALESCE("p0"."__sqlfeat_n1", 0) - COALESCE("p1"."__sqlfeat_n1", 0) > 0
      THEN CAST("p0"."__sqlfeat_s1" - COALESCE("p1"."__sqlfeat_s1", 0) AS DOUBLE) / CAST(COALESCE("p0"."__sqlfeat_n1", 0) - COALESCE("p1"."__sqlfeat_n1", 0) AS DOUBLE)
    END AS DOUBLE) AS "dwell_seconds_mean_7d",
    COALESCE("p0"."__sqlfeat_n1", 0) - COALESCE("p1"."__sqlfeat_n1", 0) > 0
    AND NOT (
      ISFINITE("p0"."__sqlfeat_a1")
      AND "p0"."__sqlfeat_a1" <= 65536 * (
        "p0"."__sqlfeat_a1" - COALESCE("p1"."__sqlfeat_a1", 0)
      )
    ) AS "__sqlfeat_flag"
  FROM "spine_keys__user_id"
  ASOF LEFT JOIN "user_click_stats__cum" AS "p0"
    ON "spine_keys__user_id"."user_id" = "p0"."user_id"
    AND "spine_keys__user_id"."__sqlfeat_ts" >= "p0"."__sqlfeat_event_ts"
  ASOF LEFT JOIN "user_click_stats__cum" AS "p1"
    ON "spine_keys__user_id"."user_id" = "p1"."user_id"
    AND "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '604800' SECOND >= "p1"."__sqlfeat_event_ts"
  ASOF LEFT JOIN "user_click_stats__cum" AS "p2"
    ON "spine_keys__user_id"."user_id" = "p2"."user_id"
    AND "spine_keys__user_id"."__sqlfeat_ts" - INTERVAL '2592000' SECOND >= "p2"."__sqlfeat_event_ts"
), "user_click_stats__flagged" AS (
  SELECT
    "user_click_stats__probes"."user_id",
    "user_click_stats__probes"."__sqlfeat_ts"
  FROM "user_click_stats__probes"
  WHERE
    "user_click_stats__probes"."__sqlfeat_flag"
), "user_click_stats__exact" AS (
  SELECT
    "user_click_stats__flagged"."user_id",
    "user_click_stats__flagged"."__sqlfeat_ts",
    CAST(AVG("s"."__sqlfeat_value_dwell_seconds") AS DOUBLE) AS "dwell_seconds_mean_7d"
  FROM "user_click_stats__flagged"
  JOIN "user_click_stats__source" AS "s"
    ON "user_click_stats__flagged"."user_id" = "s"."user_id"
    AND "s"."__sqlfeat_event_ts" <= "user_click_stats__flagged"."__sqlfeat_ts"
    AND "s"."__sqlfeat_event_ts" > "user_click_stats__flagged"."__sqlfeat_ts" - INTERVAL '604800' SECOND
  GROUP BY
    "user_click_stats__flagged"."user_id",
    "user_click_stats__flagged"."__sqlfeat_ts"
), "user_click_stats__prefix" AS (
  SELECT
    "user_click_stats__probes"."user_id",
    "user_click_stats__probes"."__sqlfeat_ts",
    "user_click_stats__probes"."clicks_30d" AS "clicks_30d",
    CASE
      WHEN "user_click_stats__probes"."__sqlfeat_flag"
      THEN "user_click_stats__exact"."dwell_seconds_mean_7d"
      ELSE "user_click_stats__probes"."dwell_seconds_mean_7d"
    END AS "dwell_seconds_mean_7d"
  FROM "user_click_stats__probes"
  LEFT JOIN "user_click_stats__exact"
    ON "user_click_stats__probes"."user_id" = "user_click_stats__exact"."user_id"
    AND "user_click_stats__probes"."__sqlfeat_ts" = "user_click_stats__exact"."__sqlfeat_ts"
), "user_click_stats__numbered" AS (
  SELECT
    "user_click_stats__source".*,
    ROW_NUMBER() OVER (
      PARTITION BY "user_click_stats__source"."user_id"
      ORDER BY "user_click_stats__source"."__sqlfeat_event_ts" ASC NULLS FIRST, "user_click_stats__source"."__sqlfeat_created_ts" ASC NULLS FIRST
    ) AS "__sqlfeat_src_row"
  FROM "user_click_stats__source"
), "user_click_stats__carried" AS (
  SELECT
    "u"."user_id",
    "u"."__sqlfeat_ts",
    "u"."__sqlfeat_kind",
    MAX("u"."__sqlfeat_src_row") OVER (
      PARTITION BY "u"."user_id"
      ORDER BY "u"."__sqlfeat_ts" NULLS FIRST, "u"."__sqlfeat_kind" NULLS FIRST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS "__sqlfeat_src_row"
  FROM (
    SELECT
      "user_click_stats__numbered"."user_id",
      "user_click_stats__numbered"."__sqlfeat_event_ts" AS "__sqlfeat_ts",
      0 AS "__sqlfeat_kind",
      "user_click_stats__numbered"."__sqlfeat_src_row"
    FROM "user_click_stats__numbered"
    UNION ALL
    SELECT
      "spine_keys__user_id"."user_id",
      "spine_keys__user_id"."__sqlfeat_ts",
      1 AS "__sqlfeat_kind",
      CAST(NULL AS BIGINT) AS "__sqlfeat_src_row"
    FROM "spine_keys__user_id"
  ) AS "u"
), "user_click_stats__last" AS (
  SELECT
    "user_click_stats__carried"."user_id",
    "user_click_stats__carried"."__sqlfeat_ts",
    CASE
      WHEN "s"."__sqlfeat_event_ts" > "user_click_stats__carried"."__sqlfeat_ts" - INTERVAL '86400' SECOND
      THEN CAST("s"."__sqlfeat_value_category" AS TEXT)
    END AS "category_last_1d"
  FROM "user_click_stats__carried"
  LEFT JOIN "user_click_stats__numbered" AS "s"
    ON "user_click_stats__carried"."user_id" = "s"."user_id"
    AND "s"."__sqlfeat_src_row" = "user_click_stats__carried"."__sqlfeat_src_row"
  WHERE
    "user_click_stats__carried"."__sqlfeat_kind" = 1
), "user_clicks_30d__source" AS (
  SELECT
    "src"."user_id" AS "user_id",
    CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_event_ts",
    CASE
      WHEN NOT TRY_CAST("src"."created" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."created" IS NULL
      THEN TRY_CAST("src"."created" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."created") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END AS "__sqlfeat_created_ts",
    CAST("src"."click_count" AS BIGINT) AS "click_count"
  FROM READ_PARQUET('/repo/data/user_clicks.parquet') AS "src"
  WHERE
    NOT "src"."user_id" IS NULL
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END <= (
      SELECT
        MAX(
          CASE
            WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
            OR "spine"."event_timestamp" IS NULL
            THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."event_timestamp") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    )
    AND CASE
      WHEN NOT TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS) IS NULL
      OR "src"."event_time" IS NULL
      THEN TRY_CAST("src"."event_time" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("src"."event_time") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END >= (
      SELECT
        MIN(
          CASE
            WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
            OR "spine"."event_timestamp" IS NULL
            THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
            ELSE CASE
              WHEN YEAR("spine"."event_timestamp") >= 2262
              THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
              ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
            END
          END
        )
      FROM "spine"
    ) - INTERVAL '2592000' SECOND
), "user_clicks_30d__latest" AS (
  SELECT
    *
  FROM "user_clicks_30d__source"
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY "user_id", "__sqlfeat_event_ts" ORDER BY "__sqlfeat_created_ts" DESC) = 1
)
SELECT
  "spine".*,
  "user_click_stats__prefix"."clicks_30d" AS "clicks_30d",
  "user_click_stats__prefix"."dwell_seconds_mean_7d" AS "dwell_seconds_mean_7d",
  "user_click_stats__last"."category_last_1d" AS "category_last_1d",
  CASE
    WHEN "user_clicks_30d"."__sqlfeat_event_ts" >= CASE
      WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
      OR "spine"."event_timestamp" IS NULL
      THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
      ELSE CASE
        WHEN YEAR("spine"."event_timestamp") >= 2262
        THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
        ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      END
    END - INTERVAL '2592000' SECOND
    THEN "user_clicks_30d"."click_count"
  END AS "click_count"
FROM "spine"
ASOF LEFT JOIN "user_clicks_30d__latest" AS "user_clicks_30d"
  ON "spine"."user_id" = "user_clicks_30d"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END >= "user_clicks_30d"."__sqlfeat_event_ts"
LEFT JOIN "user_click_stats__prefix"
  ON "spine"."user_id" = "user_click_stats__prefix"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END = "user_click_stats__prefix"."__sqlfeat_ts"
LEFT JOIN "user_click_stats__last"
  ON "spine"."user_id" = "user_click_stats__last"."user_id"
  AND CASE
    WHEN NOT TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS) IS NULL
    OR "spine"."event_timestamp" IS NULL
    THEN TRY_CAST("spine"."event_timestamp" AS TIMESTAMPTZ_NS)
    ELSE CASE
      WHEN YEAR("spine"."event_timestamp") >= 2262
      THEN CAST('2262-04-11 00:00:00+00:00' AS TIMESTAMPTZ_NS)
      ELSE CAST('1677-09-22 00:00:00+00:00' AS TIMESTAMPTZ_NS)
    END
  END = "user_click_stats__last"."__sqlfeat_ts";
