/* Status codes shared by every C module of the core.
 *
 * C never raises: each call returns one of these, and only the Python wrapper
 * (engine/errors.py) turns a negative code into a typed exception.
 */
#ifndef CORE_STATUS_H
#define CORE_STATUS_H

/* cffi:begin */
enum core_status {
    CORE_OK = 0,
    CORE_ERR_UNKNOWN_ID = -1,   /* no resting order has this id */
    CORE_ERR_DUPLICATE_ID = -2, /* an order with this id is already resting */
    CORE_ERR_BAD_QTY = -3,      /* quantity <= 0, above the limit, or a level total would overflow */
    CORE_ERR_BAD_PRICE = -4,    /* price <= 0 or above the limit */
    CORE_ERR_FULL = -5,         /* no room: order pool or ring buffer at capacity */
    CORE_ERR_BAD_OP = -6,       /* unknown operation type, side or time in force */
    CORE_ERR_BAD_ID = -7,       /* order id <= 0 where a real order is required */
    CORE_ERR_EMPTY = -8,        /* nothing to pop */
    CORE_ERR_NOMEM = -9,        /* allocation failed */
    CORE_ERR_TOO_BIG = -10      /* item larger than the destination buffer or the ring */
};
/* cffi:end */

#endif
