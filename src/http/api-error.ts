/** An answer to the client in the contract's error shape. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: readonly FieldProblem[],
  ) {
    super(message);
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

export interface FailureBody {
  success: false;
  error: { message: string; details?: readonly FieldProblem[] };
}

export function failureBody(message: string, details?: readonly FieldProblem[]): FailureBody {
  return { success: false, error: details ? { message, details } : { message } };
}

export const invalidRequestBody = 'Invalid request body';
export const invalidToken = 'Invalid token';
export const instanceNotFound = 'Instance not found';
export const rateLimitExceeded = 'Rate limit exceeded. Try again later.';
