-- One row per day: orders (with at least one item), revenue of the items not
-- returned, items sold, the share of item lines returned, unique customers.
SELECT
  CAST(o.order_time AS DATE) AS date,
  COUNT(DISTINCT o.order_id) AS orders,
  SUM(CASE WHEN i.returned THEN 0.0 ELSE i.quantity * i.unit_price END) AS revenue,
  SUM(i.quantity) AS items_sold,
  AVG(CASE WHEN i.returned THEN 1.0 ELSE 0.0 END) AS return_rate,
  COUNT(DISTINCT o.customer_id) AS unique_customers
FROM orders o
JOIN order_items i ON i.order_id = o.order_id
GROUP BY CAST(o.order_time AS DATE)
