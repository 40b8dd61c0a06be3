-- The sales facts, keyed by the operational sales_order_id (natural keys
-- throughout: see the README). Kept with full history (write: history).
SELECT
  sales_order_id,
  CAST(created_at AS DATE) AS created_date,
  created_at,
  CAST(last_updated AS DATE) AS last_updated_date,
  last_updated,
  staff_id AS sales_staff_id,
  counterparty_id,
  units_sold,
  unit_price,
  currency_id,
  design_id,
  agreed_payment_date,
  agreed_delivery_date,
  agreed_delivery_location_id AS location_id
FROM sales_order
