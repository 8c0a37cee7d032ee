/** Where bull-board is served (its module loads on the first request there). */
export const QUEUE_BOARD_PATH = "/admin/queues";
