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
), `user_click_stats__aggregates` AS (
  SELECT
    `spine_keys__user_id`.`user_id`,
    `spine_keys__user_id`.`__sqlfeat_ts`,
    CAST(COUNT(`s`.`__sqlfeat_value_click_id`) AS BIGINT) AS `clicks_30d`,
    CAST(AVG(
      CASE
        WHEN `s`.`__sqlfeat_event_ts` > `spine_keys__user_id`.`__sqlfeat_ts` - INTERVAL '604800' SECOND
        THEN `s`.`__sqlfeat_value_dwell_seconds`
      END
    ) AS DOUBLE) AS `dwell_seconds_mean_7d`
  FROM `spine_keys__user_id`
  JOIN `user_click_stats__source` AS `s`
    ON `spine_keys__user_id`.`user_id` = `s`.`user_id`
    AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id`.`__sqlfeat_ts`
    AND `s`.`__sqlfeat_event_ts` > `spine_keys__user_id`.`__sqlfeat_ts` - INTERVAL '2592000' SECOND
  GROUP BY
    `spine_keys__user_id`.`user_id`,
    `spine_keys__user_id`.`__sqlfeat_ts`
), `user_click_stats__last` AS (
  SELECT
    `user_id`,
    `__sqlfeat_ts`,
    `category_last_1d`
  FROM (
    SELECT
      `spine_keys__user_id`.`user_id`,
      `spine_keys__user_id`.`__sqlfeat_ts`,
      CAST(`s`.`__sqlfeat_value_category` AS STRING) AS `category_last_1d`,
      ROW_NUMBER() OVER (
        PARTITION BY `spine_keys__user_id`.`user_id`, `spine_keys__user_id`.`__sqlfeat_ts`
        ORDER BY `s`.`__sqlfeat_event_ts` DESC, `s`.`__sqlfeat_created_ts` DESC
      ) AS _w
    FROM `spine_keys__user_id`
    JOIN `user_click_stats__source` AS `s`
      ON `spine_keys__user_id`.`user_id` = `s`.`user_id`
      AND `s`.`__sqlfeat_event_ts` <= `spine_keys__user_id`.`__sqlfeat_ts`
      AND `s`.`__sqlfeat_event_ts` > `spine_keys__user_id`.`__sqlfeat_ts` - INTERVAL '86400' SECOND
  ) AS _t
  WHERE
    _w = 1
)
SELECT
  `spine`.*,
  COALESCE(`user_click_stats__aggregates`.`clicks_30d`, 0) AS `clicks_30d`,
  `user_click_stats__aggregates`.`dwell_seconds_mean_7d` AS `dwell_seconds_mean_7d`,
  `user_click_stats__last`.`category_last_1d` AS `category_last_1d`
FROM `spine`
LEFT JOIN `user_click_stats__aggregates`
  ON `spine`.`user_id` = `user_click_stats__aggregates`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_click_stats__aggregates`.`__sqlfeat_ts`
LEFT JOIN `user_click_stats__last`
  ON `spine`.`user_id` = `user_click_stats__last`.`user_id`
  AND CAST(`spine`.`event_timestamp` AS TIMESTAMP) = `user_click_stats__last`.`__sqlfeat_ts`;
