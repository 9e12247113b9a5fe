package connector

import (
	"time"

	pb "github.com/rapportcrm/rapport/plugins/sdk/connector/pb/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The functions below translate between the plain Go types plugin authors see and the
// protocol-version-1 wire messages. A zero time travels as an absent timestamp.

func tsToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func capsToPB(cs []Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func capsFromPB(cs []string) []Capability {
	out := make([]Capability, len(cs))
	for i, c := range cs {
		out[i] = Capability(c)
	}
	return out
}

func addressToPB(a Address) *pb.Address {
	return &pb.Address{Street: a.Street, City: a.City, PostalCode: a.PostalCode, Country: a.Country}
}

func addressFromPB(a *pb.Address) Address {
	return Address{Street: a.GetStreet(), City: a.GetCity(), PostalCode: a.GetPostalCode(), Country: a.GetCountry()}
}

func customerToPB(c Customer) *pb.Customer {
	return &pb.Customer{Id: c.ID, Name: c.Name, TaxId: c.TaxID, Email: c.Email, Phone: c.Phone,
		Address: addressToPB(c.Address), UpdatedAt: tsToPB(c.UpdatedAt)}
}

func customerFromPB(c *pb.Customer) Customer {
	return Customer{ID: c.GetId(), Name: c.GetName(), TaxID: c.GetTaxId(), Email: c.GetEmail(),
		Phone: c.GetPhone(), Address: addressFromPB(c.GetAddress()), UpdatedAt: tsFromPB(c.GetUpdatedAt())}
}

func linesToPB(ls []OrderLine) []*pb.OrderLine {
	out := make([]*pb.OrderLine, len(ls))
	for i, l := range ls {
		out[i] = &pb.OrderLine{ProductCode: l.ProductCode, Description: l.Description,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount}
	}
	return out
}

func linesFromPB(ls []*pb.OrderLine) []OrderLine {
	if len(ls) == 0 {
		return nil
	}
	out := make([]OrderLine, len(ls))
	for i, l := range ls {
		out[i] = OrderLine{ProductCode: l.GetProductCode(), Description: l.GetDescription(),
			Quantity: l.GetQuantity(), UnitPrice: l.GetUnitPrice(), Amount: l.GetAmount()}
	}
	return out
}

func orderToPB(o Order) *pb.Order {
	return &pb.Order{Id: o.ID, Number: o.Number, CustomerId: o.CustomerID, Date: tsToPB(o.Date),
		State: o.State, Currency: o.Currency, Total: o.Total, Lines: linesToPB(o.Lines),
		Reference: o.Reference, UpdatedAt: tsToPB(o.UpdatedAt)}
}

func orderFromPB(o *pb.Order) Order {
	return Order{ID: o.GetId(), Number: o.GetNumber(), CustomerID: o.GetCustomerId(),
		Date: tsFromPB(o.GetDate()), State: o.GetState(), Currency: o.GetCurrency(), Total: o.GetTotal(),
		Lines: linesFromPB(o.GetLines()), Reference: o.GetReference(), UpdatedAt: tsFromPB(o.GetUpdatedAt())}
}

func invoiceToPB(v Invoice) *pb.Invoice {
	return &pb.Invoice{Id: v.ID, Number: v.Number, CustomerId: v.CustomerID, OrderId: v.OrderID,
		Date: tsToPB(v.Date), DueDate: tsToPB(v.DueDate), State: v.State, Currency: v.Currency,
		Total: v.Total, AmountDue: v.AmountDue, UpdatedAt: tsToPB(v.UpdatedAt)}
}

func invoiceFromPB(v *pb.Invoice) Invoice {
	return Invoice{ID: v.GetId(), Number: v.GetNumber(), CustomerID: v.GetCustomerId(), OrderID: v.GetOrderId(),
		Date: tsFromPB(v.GetDate()), DueDate: tsFromPB(v.GetDueDate()), State: v.GetState(),
		Currency: v.GetCurrency(), Total: v.GetTotal(), AmountDue: v.GetAmountDue(),
		UpdatedAt: tsFromPB(v.GetUpdatedAt())}
}

func paymentToPB(p Payment) *pb.Payment {
	return &pb.Payment{Id: p.ID, CustomerId: p.CustomerID, InvoiceId: p.InvoiceID, Date: tsToPB(p.Date),
		Currency: p.Currency, Amount: p.Amount, Method: p.Method, UpdatedAt: tsToPB(p.UpdatedAt)}
}

func paymentFromPB(p *pb.Payment) Payment {
	return Payment{ID: p.GetId(), CustomerID: p.GetCustomerId(), InvoiceID: p.GetInvoiceId(),
		Date: tsFromPB(p.GetDate()), Currency: p.GetCurrency(), Amount: p.GetAmount(), Method: p.GetMethod(),
		UpdatedAt: tsFromPB(p.GetUpdatedAt())}
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	if len(in) == 0 {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
