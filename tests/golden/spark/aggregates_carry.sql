WITH `spine` AS (
  SELECT
    *
  FROM `entity_df`
), `spine_keys__user_id` AS (
  SELECT DISTINCT
    `spine`.`user_id`,
    CAST(`spine`.`event_timestamp` AS TIMESTAMP) AS `__sqlfeat_ts`
  FROM `spine`
), `user_click_stats__source` AS (
  SELECT
    `src`.`user_id` AS `user_id`,
    CAST(`src`.`event_time` AS TIMESTAMP) AS `__sqlfeat_event_ts`,
    CAST(`src`.`created` AS TIMESTAMP) AS `__sqlfeat_created_ts`,
    `src`.`click_id` AS `__sqlfeat_value_click_id`,
    `src`.`dwell_seconds` AS `__sqlfeat_value_dwell_seconds`,
    `src`.`category` AS `__sqlfeat_value_category`
  FROM `analytics`.`click_events` AS `src`
  WHERE
    NOT `src`.`user_id` IS NULL
    AND CAST(`src`.`event_time` AS TIMESTAMP) <= (
      SELECT
        MAX(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    )
    AND CAST(`src`.`event_time` AS TIMESTAMP) >= (
      SELECT
        MIN(`__sqlfeat_ts`)
      FROM `spine_keys__user_id`
    ) - INTERVAL '2592000' SECOND
), `user_click_stats__slid` AS (
  SELECT
    `u`.`user_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    CAST(COUNT(`u`.`__sqlfeat_value_click_id`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_t`
      RANGE BETWEEN 2591999999999 PRECEDING AND CURRENT ROW
    ) AS BIGINT) AS `clicks_30d`,
    CAST(AVG(`u`.`__sqlfeat_value_dwell_seconds`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_t`
      RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW
    ) AS DOUBLE) AS `dwell_seconds_mean_7d`
  FROM (
    SELECT
      `user_click_stats__source`.`user_id`,
      `user_click_stats__source`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      UNIX_MICROS(`user_click_stats__source`.`__sqlfeat_event_ts`) AS `__sqlfeat_t`,
      0 AS `__sqlfeat_kind`,
      `user_click_stats__source`.`__sqlfeat_value_click_id`,
      `user_click_stats__source`.`__sqlfeat_value_dwell_seconds`
    FROM `user_click_stats__source`
    UNION ALL
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      UNIX_MICROS(`spine_keys__user_id`.`__sqlfeat_ts`) AS `__sqlfeat_t`,
      1 AS `__sqlfeat_kind`,
      NULL AS `__sqlfeat_value_click_id`,
      NULL AS `__sqlfeat_value_dwell_seconds`
    FROM `spine_keys__user_id`
  ) AS `u`
), `user_click_stats__windows` AS (
  SELECT
    `user_click_stats__slid`.`user_id`,
    `user_click_stats__slid`.`__sqlfeat_ts`,
    `user_click_stats__slid`.`clicks_30d`,
    `user_click_stats__slid`.`dwell_seconds_mean_7d`
  FROM `user_click_stats__slid`
  WHERE
    `user_click_stats__slid`.`__sqlfeat_kind` = 1
), `user_click_stats__numbered` AS (
  SELECT
    `user_click_stats__source`.*,
    ROW_NUMBER() OVER (
      PARTITION BY `user_click_stats__source`.`user_id`
      ORDER BY `user_click_stats__source`.`__sqlfeat_event_ts` ASC, `user_click_stats__source`.`__sqlfeat_created_ts` ASC
    ) AS `__sqlfeat_src_row`
  FROM `user_click_stats__source`
), `user_click_stats__carried` AS (
  SELECT
    `u`.`user_id`,
    `u`.`__sqlfeat_ts`,
    `u`.`__sqlfeat_kind`,
    MAX(`u`.`__sqlfeat_src_row`) OVER (
      PARTITION BY `u`.`user_id`
      ORDER BY `u`.`__sqlfeat_ts`, `u`.`__sqlfeat_kind`
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS `__sqlfeat_src_row`
  FROM (
    SELECT
      `user_click_stats__numbered`.`user_id`,
      `user_click_stats__numbered`.`__sqlfeat_event_ts` AS `__sqlfeat_ts`,
      0 AS `__sqlfeat_kind`,
      `user_click_stats__numbered`.`__sqlfeat_src_row`
    FROM `user_click_stats__numbered`
    UNION ALL
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      1 AS `__sqlfeat_kind`,
      CAST(NULL AS BIGINT) AS `__sqlfeat_src_row`
    FROM `spine_keys__user_id`
  ) AS `u`
), `user_click_stats__last` AS (
  SELECT
    `user_click_stats__carried`.`user_id`,
    `user_click_stats__carried`.`__sqlfeat_ts`,
    CASE
      WHEN `s`.`__sqlfeat_event_ts` > `user_click_stats__carried`.`__sqlfeat_ts` - INTERVAL '86400' SECOND
      THEN CAST(`s`.`__sqlfeat_value_category` AS STRING)
    END AS `category_last_1d`
  FROM `user_click_stats__carried`
  LEFT JOIN `user_click_stats__numbered` AS `s`
    ON `user_click_stats__carried`.`user_id` = `s`.`user_id`
    AND `s`.`__sqlfeat_src_row` = `user_click_stats__carried`.`__sqlfeat_src_row`
  WHERE
    `user_click_stats__carried`.`__sqlfeat_kind` = 1
)
SELECT
  `spine`.*,
  COALESCE(`user_click_stats__windows`.`clicks_30d`, 0) AS `clicks_30d`,
  `user_click_stats__windows`.`dwell_seconds_mean_7d` AS `dwell_seconds_mean_7d`,
  `user_click_stats__last`.`category_last_1d` AS `category_last_1d`
FROM `spine`
LEFT JOIN `user_click_stats__windows`
  ON `spine`.`user_id` = `user_click_stats__windows`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_click_stats__windows`.`__sqlfeat_ts`
LEFT JOIN `user_click_stats__last`
  ON `spine`.`user_id` = `user_click_stats__last`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_click_stats__last`.`__sqlfeat_ts`;
